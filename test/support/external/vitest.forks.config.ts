// The same live files in child processes (pool forks): the run's ledger lives in the lane's process and
// cannot be reached from there, so the recorder must refuse to start, naming the pool.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [{
      test: {
        name: "workflow-live",
        include: ["test/support/external/escape.live.ts"],
        environment: "node",
        globalSetup: ["src/vitest/globalSetup.ts"],
        pool: "forks",
        setupFiles: ["src/vitest/skip.ts", "src/vitest/httpRecorder.ts"],
        testTimeout: 60_000
      }
    }]
  }
})
