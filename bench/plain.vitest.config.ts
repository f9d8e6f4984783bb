// The baseline for bench/lane.bench.ts: the live project's files run by plain Vitest, with no global
// setup (no guard, preflight or reset), on a database the bench prepared beforehand.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [{
      test: {
        name: "workflow-live-plain",
        include: ["test/workflow_live/**/*.test.ts"],
        environment: "node",
        pool: "threads",
        testTimeout: 120_000
      }
    }]
  }
})
