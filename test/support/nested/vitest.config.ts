import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Nested Vitest runs started by integration tests (test/integration/FixturesLifecycle.test.ts): real
// failing tests, real timeouts, two files in parallel workers. Never part of the main config.
export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    include: ["test/support/nested/*.nested.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    pool: "forks",
    maxWorkers: 2,
    minWorkers: 2,
    fileParallelism: true
  }
})
