import { defineConfig } from "vitest/config"

// Vitest has no "off by default" project. The live lane is costly and destructive (it resets a
// database), so it is only part of the config when asked for by name: `--project workflow-live`
// or WORKFLOW_LIVE_LANE=1 (set by `workflow-live run`). A plain `vitest run` never starts it.
const argv = process.argv.slice(2)
const liveRequested =
  process.env.WORKFLOW_LIVE_LANE === "1" ||
  argv.some((arg, i) =>
    (arg === "--project" && /workflow-live/.test(argv[i + 1] ?? "")) ||
    (arg.startsWith("--project=") && /workflow-live/.test(arg))
  )

export default defineConfig({
  test: {
    // Isolation is a property of the pool, shared by every project using it (Vitest 3): the thread pool
    // runs without it for the unit lane (~2-3x faster, `mise run bench unit`), unless the live lane, which
    // also runs in threads, is part of this run. The integration lane runs in forks, isolated.
    poolOptions: { threads: { isolate: liveRequested } },
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
          // the fast loop: worker threads that keep their module graph between unit files (poolOptions
          // above) instead of re-importing Effect for each file. The files stay independent: no I/O, and
          // Vitest restores stubbed env vars, globals and mocks after every test
          pool: "threads",
          unstubEnvs: true,
          unstubGlobals: true,
          restoreMocks: true
        }
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          // decides the run's PostgreSQL once: WORKFLOW_LIVE_TEST_SERVER, a server on the default address,
          // else a throwaway one from npm for the whole run (README: "Which PostgreSQL the tests use")
          globalSetup: ["test/support/testServerSetup.ts"],
          // many tests start whole Vitest or CLI processes; on a busy 2-core machine one takes 20-60 s
          testTimeout: 120_000,
          hookTimeout: 120_000
        }
      },
      ...(liveRequested
        ? [{
          test: {
            name: "workflow-live",
            include: ["test/workflow_live/**/*.test.ts"],
            environment: "node",
            globalSetup: ["src/vitest/globalSetup.ts"],
            // threads, not forks: a Ctrl-C reaches the whole process group, and forked workers die
            // or linger on their own; worker threads stop with the lane, which then sweeps the run
            pool: "threads",
            setupFiles: ["src/vitest/skip.ts", "src/vitest/externalCalls.ts", "src/vitest/httpRecorder.ts"],
            testTimeout: 120_000,
            hookTimeout: 120_000
          }
        }]
        : [])
    ]
  }
})
