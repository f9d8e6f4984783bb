// The floor for bench/unit.bench.ts: bare Vitest running one trivial test (bench/trivial/), no projects.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["bench/trivial/*.test.ts"],
    environment: "node"
  }
})
