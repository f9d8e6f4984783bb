// Two live files in two worker threads at once, each sending two calls to the tender stand-in: the
// HTTP-recorder integration test runs `workflow-live run` on them to show that parallel files share one
// budget (the run's ledger), not one each.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    maxWorkers: 2,
    minWorkers: 2,
    projects: [{
      test: {
        name: "workflow-live",
        include: ["test/support/external/*.live.ts"],
        environment: "node",
        globalSetup: ["src/vitest/globalSetup.ts"],
        pool: "threads",
        setupFiles: ["src/vitest/skip.ts", "src/vitest/httpRecorder.ts"],
        testTimeout: 60_000
      }
    }]
  }
})
