// A `workflow-live` project whose only test holds its fixtures and then waits forever: the lane-signal
// integration test starts `workflow-live run` on it and interrupts the lane mid-test.
import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: [{
      test: {
        name: "workflow-live",
        include: ["test/support/sigint/*.live.ts"],
        environment: "node",
        globalSetup: ["src/vitest/globalSetup.ts"],
        pool: "threads",
        setupFiles: ["src/vitest/externalCalls.ts", "src/vitest/skip.ts"],
        testTimeout: 300_000
      }
    }]
  }
})
