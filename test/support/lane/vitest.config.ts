// A `workflow-live` project of probe suites for the lane's integration tests: each file is one situation
// (a test that hangs, fails, throws on import, a layer that cannot be built, unkeyed rows, the real
// clock). A test picks its files by name: `workflow-live run -- --config test/support/lane/vitest.config.ts <file>`.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  root: fileURLToPath(new URL("../../..", import.meta.url)),
  test: {
    projects: [{
      test: {
        name: "workflow-live",
        root: fileURLToPath(new URL("../../..", import.meta.url)),
        include: ["test/support/lane/**/*.live.ts"],
        environment: "node",
        globalSetup: ["src/vitest/globalSetup.ts"],
        pool: "threads",
        setupFiles: ["src/vitest/skip.ts", "src/vitest/externalCalls.ts"],
        testTimeout: 300_000
      }
    }]
  }
})
