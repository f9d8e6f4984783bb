// `workflow-live run` end to end on the real tenderbot_workflow_test, and interrupted mid-test (Ctrl-C to
// the whole process group, SIGTERM to the lane process): Vitest skips finalizers on signals, so the lane
// itself must sweep the run's rows before exiting, and say so in one message.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Cli from "../support/cli.js"
import * as HttpServer from "../support/httpServer.js"
import { laneDsn, probeConfig, readReport, rowsOfRun, rowsPerTable } from "../support/lane.js"
import { ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

const dir = mkdtempSync(join(tmpdir(), "wl-lane-run-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

// the server's own password when it has one (so password auth works), else one trust auth ignores
const SECRET = TestDatabase.secret

// a killed lane's sessions end when the server notices; until then its lock still looks held
const waitForNoLane = async () => {
  for (let i = 0; i < 50; i++) {
    const lanes = await withClient("postgres", (c) =>
      c.query("SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'workflow-live lane running tests%'"))
    if (lanes.rowCount === 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error("the killed lane's session is still there after 5 s")
}

// Starts a lane on the hanging probe and waits until the probe holds its fixtures.
const startProbe = async (args: ReadonlyArray<string>, env: Record<string, string>, ready: string) => {
  const lane = Cli.startWorkflowLive([...args, "--", "--config", probeConfig, "hang"], {
    env: { ...env, WORKFLOW_LIVE_PROBE_READY: ready }
  })
  try {
    await Cli.waitForFile(ready, 90_000)
  } catch (e) {
    lane.kill("SIGKILL")
    throw new Error(`\`${args.join(" ")}\` never reached its test:\n${lane.output()}`, { cause: e })
  }
  return lane
}

const interruptedLane = async (signal: "SIGINT" | "SIGTERM", toGroup: boolean) => {
  const runId = `sig_${signal.toLowerCase()}_${process.pid}`
  const ready = join(dir, `${runId}.ready`)
  const lane = await startProbe(["run", "--stand-ins", "--report-dir", join(dir, runId)], {
    TENDERBOT_WORKFLOW_DB_DSN: laneDsn(SECRET),
    WORKFLOW_LIVE_RUN_ID: runId
  }, ready)
  const during = await rowsOfRun(runId)
  lane.kill(signal, toGroup)
  const outcome = await lane.exited
  return { runId, during, outcome, after: await rowsOfRun(runId), externalId: readFileSync(ready, "utf8") }
}

/** What every interrupted lane must print: one coherent message, no fiber or driver internals. */
const expectOneMessage = (output: string, signal: string, code: number): void => {
  expect(output.match(/INTERRUPTED/g), output).toHaveLength(1)
  // exactly the one test that hangs, named once: the workers' announcement and Vitest's own update agree
  expect(output).toContain(
    `by ${signal} during tests (running: test/support/lane/hang.live.ts > interrupted mid-test > holds its fixtures until the lane is interrupted)`
  )
  // the cancelled test's own finalizers may have removed part of its rows before its worker stopped
  expect(output).toMatch(new RegExp(`; (swept [a-z_]+ \\d+(, [a-z_]+ \\d+)*|nothing left to sweep); exit ${code}`))
  expect(output).toMatch(/✓ sweep .*(removed [a-z_]+ \d+|nothing to remove)/)
  for (const internal of ["FiberFailure", "An error has occurred", "Failed Tests", "Cannot open the workflow database"]) {
    expect(output).not.toContain(internal)
  }
  expect(output).not.toMatch(Cli.stackLine)
  expect(output).not.toContain(SECRET)
}

describe("workflow-live run", () => {
  it("runs the phases in order, passes Vitest arguments through, and writes the reports", async () => {
    const reportDir = join(dir, "reports")
    const summaryFile = join(dir, "step-summary.md")
    const { code, output } = await Cli.workflowLive(
      ["run", "--stand-ins", "--report-dir", reportDir, "--", "-t", "matches new tenders"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(SECRET), WORKFLOW_LIVE_RUN_ID: "it_reports", GITHUB_STEP_SUMMARY: summaryFile } }
    )
    expect(code, output).toBe(0)
    const phases = ["start", "load", "run id", "guard", "preflight", "reset", "protect", "tests", "leak check", "sweep", "exit", "report"]
    const order = phases.map((p) => output.search(new RegExp(`✓ ${p}\\s+\\d`)))
    expect(order.every((i) => i >= 0), output).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    const report = readReport(reportDir)
    expect(report.outcome).toBe("passed")
    expect(report.exitCode).toBe(0)
    expect(report.runId).toBe("it_reports")
    expect(report.tests?.passed).toBe(1) // only the -t filtered test ran
    expect(report.tests?.skipped).toBe(0) // the others were not selected, not skipped
    expect(report.tests?.notSelected).toBeGreaterThanOrEqual(2)
    // the sample job called both APIs: 2 LLM summaries + 2 tender fetches, counted per origin
    expect(Object.values(report.tests?.externalCalls ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4)
    expect(report.phases.map((p) => p.name)).toEqual(phases)
    expect(output).toMatch(/PASSED {2}1 passed, 0 failed, 0 error\(s\), 0 skipped, \d+ not selected, \d+ external call\(s\), run it_reports/)
    const junit = readFileSync(join(reportDir, "junit.xml"), "utf8")
    expect(junit).toContain("matches new tenders")
    expect(readFileSync(summaryFile, "utf8")).toContain("### workflow-live: passed")
    for (const text of [output, junit, JSON.stringify(report), readFileSync(summaryFile, "utf8")]) {
      expect(text).not.toContain(SECRET)
    }
  }, 120_000)

  it("a failing phase is named, exits 1, and the report says failed", async () => {
    const reportDir = join(dir, "reports-fail")
    const { code, output } = await Cli.workflowLive(["run", "--report-dir", reportDir], {
      env: {
        TENDERBOT_WORKFLOW_DB_DSN: laneDsn(),
        TENDERBOT_LLM_BASE_URL: undefined,
        TENDERBOT_LLM_API_KEY: undefined,
        TENDERBOT_TENDERS_API_URL: undefined,
        WORKFLOW_LIVE_ON_MISSING: "fail"
      }
    })
    expect(code, output).toBe(1)
    expect(output).toContain("failed in phase `preflight`")
    expect(output).toContain("TENDERBOT_LLM_BASE_URL")
    const report = readReport(reportDir)
    expect(report.outcome).toBe("failed")
    expect(report.tests).toBeNull()
    expect(report.phases.find((p) => p.name === "preflight")?.status).toBe("fail")
  }, 60_000)
})

describe("workflow-live run interrupted mid-test", () => {
  it("Ctrl-C (SIGINT to the process group) sweeps the run's rows, says so once, and exits 130", async () => {
    await ensureSentinels()
    const before = await fingerprint()
    const r = await interruptedLane("SIGINT", true)
    expect(r.externalId.startsWith(`wl-${r.runId}-`)).toBe(true)
    expect(r.during, "rows existed while the test ran").toBeGreaterThanOrEqual(3)
    expect(r.outcome.code, r.outcome.output).toBe(130)
    expectOneMessage(r.outcome.output, "SIGINT", 130)
    expect(r.after, r.outcome.output).toBe(0)
    expect(await fingerprint()).toEqual(before)
  }, 150_000)

  it("SIGTERM to the lane process alone sweeps the run's rows, says so once, and exits 143", async () => {
    const r = await interruptedLane("SIGTERM", false)
    expect(r.during).toBeGreaterThanOrEqual(3)
    expect(r.outcome.code, r.outcome.output).toBe(143)
    expectOneMessage(r.outcome.output, "SIGTERM", 143)
    expect(r.after, r.outcome.output).toBe(0)
    const report = readReport(join(dir, r.runId))
    expect(report.outcome).toBe("interrupted")
    expect(report.exitCode).toBe(143)
    expect(report.swept).not.toBeNull()
  }, 150_000)
})

describe("workflow-live run interrupted before its tests", () => {
  it("Ctrl-C during preflight: the phase it stopped in, nothing to sweep, exit 130", async () => {
    const slowApi = await HttpServer.start({ delayMs: 20_000 })
    try {
      const reportDir = join(dir, "early")
      const lane = Cli.startWorkflowLive(["run", "--report-dir", reportDir], {
        env: {
          TENDERBOT_WORKFLOW_DB_DSN: laneDsn(),
          TENDERBOT_TENDERS_API_URL: slowApi.url,
          TENDERBOT_LLM_BASE_URL: slowApi.url,
          TENDERBOT_LLM_API_KEY: "a-key"
        }
      })
      await Cli.waitFor(() => slowApi.received.length > 0, 60_000, "preflight's probe")
      lane.kill("SIGINT", true)
      const { code, output } = await lane.exited
      expect(code, output).toBe(130)
      expect(output).toMatch(/✗ preflight .*interrupted/)
      expect(output).not.toMatch(/[✓✗] (reset|tests)/)
      expect(output.match(/INTERRUPTED/g), output).toHaveLength(1)
      expect(output).toContain("by SIGINT during preflight; nothing to sweep (no test had started); exit 130")
      expect(output).not.toMatch(/FiberFailure|An error has occurred/)
      expect(readReport(reportDir)).toMatchObject({ outcome: "interrupted", exitCode: 130, tests: null })
    } finally {
      await slowApi.close()
    }
  }, 120_000)
})

describe("workflow-live run interrupted after its tests", () => {
  it("a signal during a leak check that waits on a lock: the lock wait ends, the verdict is INTERRUPTED, exit 130", async () => {
    const runId = `sig_after_${process.pid}`
    const ready = join(dir, `${runId}.ready`)
    const lane = Cli.startWorkflowLive(
      ["run", "--stand-ins", "--report-dir", join(dir, runId), "--", "--config", probeConfig, "lock-table"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: runId, WORKFLOW_LIVE_PROBE_READY: ready } }
    )
    try {
      // the tests are over and the leak check waits on the probe's lock
      await Cli.waitFor(() => /✓ tests /.test(lane.output()), 90_000, "the tests phase to end")
      await new Promise((resolve) => setTimeout(resolve, 500))
      const signalled = performance.now()
      lane.kill("SIGINT")
      const outcome = await lane.exited
      // bounded by the leak check's and the sweep's lock timeout, not by the lock holder
      expect(performance.now() - signalled, outcome.output).toBeLessThan(35_000)
      expect(outcome.code, outcome.output).toBe(130)
      expect(outcome.output).not.toMatch(/PASSED/)
      expect(outcome.output.match(/INTERRUPTED/g), outcome.output).toHaveLength(1)
      expect(outcome.output).toMatch(/by SIGINT during (leak check|sweep)/)
      // the sweep ran (and gave up on the same lock): the line says so, not that it never ran
      expect(outcome.output).not.toContain("the sweep did not run")
      expect(outcome.output).toMatch(/; (the sweep failed \(.*lock timeout.*\): the next reset drops what is left|nothing left to sweep); exit 130/)
      const report = readReport(join(dir, runId))
      expect(report).toMatchObject({ outcome: "interrupted", exitCode: 130 })
      expect(report.phases.find((p) => p.name === "leak check")?.detail).toMatch(/lock timeout/)
    } finally {
      lane.kill("SIGKILL")
      await withClient("postgres", (c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'wl-probe-locker'"))
    }
  }, 120_000)
})

describe("after a lane was killed", () => {
  it("the next run's reset says what it removed: the dead run's ID, tables and counts", async () => {
    const runId = `killed_${process.pid}`
    const probe = await startProbe(["run", "--stand-ins", "--report-dir", join(dir, runId)], {
      TENDERBOT_WORKFLOW_DB_DSN: laneDsn(),
      WORKFLOW_LIVE_RUN_ID: runId
    }, join(dir, `${runId}.ready`))
    probe.kill("SIGKILL", true)
    await probe.exited
    expect(await rowsOfRun(runId), "a killed lane cannot sweep").toBe(3)
    await waitForNoLane()
    const reportDir = join(dir, `${runId}_next`)
    const next = await Cli.workflowLive(
      ["run", "--stand-ins", "--report-dir", reportDir, "--", "--config", probeConfig, "passing"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: "after_kill" } }
    )
    expect(next.code, next.output).toBe(0)
    expect(next.output).toMatch(
      new RegExp(`✓ reset .*; removed what run ${runId} left: alert_profiles 1, customers 1, tenders 1`)
    )
    expect(next.output).toContain(`removed at reset, left by run ${runId}: alert_profiles 1, customers 1, tenders 1`)
    expect(readReport(reportDir).earlier).toEqual({ runId, rows: { customers: 1, alert_profiles: 1, tenders: 1 } })
    expect(await rowsOfRun(runId)).toBe(0)
  }, 150_000)

  it("a run after a clean one reports nothing removed", async () => {
    const reportDir = join(dir, "after_clean")
    const next = await Cli.workflowLive(
      ["run", "--stand-ins", "--report-dir", reportDir, "--", "--config", probeConfig, "passing"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: "after_clean" } }
    )
    expect(next.code, next.output).toBe(0)
    expect(next.output).not.toContain("removed what run")
    expect(readReport(reportDir).earlier).toBeNull()
    // the lane before this one left a spare (its scope waited for the deferred work): this reset swapped
    // it in, and its line says so rather than naming the template
    expect(next.output).toMatch(/✓ reset .*swapped in tenderbot_workflow_test__spare_[0-9a-f]+, 0 migration\(s\) applied/)
  }, 150_000)
})

describe("workflow-live run --watch", () => {
  const generated = join(Cli.root, "test/support/lane/generated")
  const file = join(generated, `watch-${process.pid}.live.ts`)
  afterAll(() => rmSync(generated, { recursive: true, force: true }))

  // each version checks that the previous pass's rows were swept, then leaves an unkeyed row of its own
  const writeVersion = (n: number) =>
    writeFileSync(file, [
      `import { SqlClient } from "@effect/sql"`,
      `import { expect, layer } from "@effect/vitest"`,
      `import { Effect } from "effect"`,
      `import * as Fixtures from "../../../../src/Fixtures.js"`,
      `import * as WorkflowLive from "../../../../src/WorkflowLive.js"`,
      `layer(WorkflowLive.layer)("watched", (it) => {`,
      `  it.scoped("version ${n} starts on a swept database", () => Effect.gen(function*() {`,
      `    const sql = yield* SqlClient.SqlClient`,
      `    const [row] = yield* sql<{ n: number }>\`SELECT count(*)::int AS n FROM tenders\``,
      `    expect(row?.n).toBe(0)`,
      `    yield* (yield* Fixtures.Fixtures).customer()`,
      `    yield* sql\`INSERT INTO tenders (external_id, title, buyer, published_at) VALUES ('ted-watch-${n}', 't', 'b', now())\``,
      `  }))`,
      `})`,
      ``
    ].join("\n"))

  it("resets once, reruns on change with the run's rows swept between passes, and ends on Ctrl-C", async () => {
    mkdirSync(generated, { recursive: true })
    writeVersion(1)
    const reportDir = join(dir, "watch")
    const lane = Cli.startWorkflowLive(
      ["run", "--watch", "--stand-ins", "--report-dir", reportDir, "--", "--config", probeConfig, "generated/watch"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: "watching" } }
    )
    const passes = () => lane.output().split("watching for changes").length - 1
    try {
      await Cli.waitFor(() => passes() === 1, 90_000, "the first pass")
      expect(readReport(reportDir)).toMatchObject({ leaks: { tenders: 1 }, swept: { tenders: 1 } })
      writeVersion(2)
      await Cli.waitFor(() => passes() === 2, 60_000, "a second pass after the change")
      const second = readReport(reportDir)
      expect(second.tests?.cases.map((c) => [c.name, c.state])).toEqual([["watched > version 2 starts on a swept database", "passed"]])
      expect(second).toMatchObject({ leaks: { tenders: 1 }, swept: { tenders: 1 } })
    } finally {
      lane.kill("SIGINT", true)
    }
    const { code, output } = await lane.exited
    expect(code, output).toBe(130)
    expect(output.match(/✓ reset/g), "one reset for the whole watch").toHaveLength(1)
    expect(output.match(/✓ sweep .*removed tenders 1/g)).toHaveLength(2)
    expect(output.match(/INTERRUPTED/g)).toHaveLength(1)
    expect(output, "no keyboard shortcuts the lane does not honour").not.toContain("press h")
    expect(await rowsPerTable()).toMatchObject({ customers: 0, tenders: 0 })
  }, 180_000)
})

describe("a second lane on the same server", () => {
  it("its reset waits for the lane running tests, then fails naming it; the first lane's rows survive", async () => {
    const runId = `busy_${process.pid}`
    const probe = await startProbe(["run", "--stand-ins", "--report-dir", join(dir, runId)], {
      TENDERBOT_WORKFLOW_DB_DSN: laneDsn(),
      WORKFLOW_LIVE_RUN_ID: runId
    }, join(dir, `${runId}.ready`))
    try {
      expect(await rowsOfRun(runId)).toBeGreaterThanOrEqual(3)
      const second = await Cli.workflowLive(["reset"], {
        env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_LOCK_TIMEOUT: "2 seconds" }
      })
      expect(second.code, second.output).toBe(1)
      // while it waits it says for whom, not only when it gives up
      expect(second.output).toMatch(/lock {9}waiting: the reset lock is held by pid \d+, application "workflow-live lane running tests \(pid \d+\)"/)
      expect(second.output).toContain("lock-timeout")
      expect(second.output).toContain("workflow-live lane running tests")
      expect(await rowsOfRun(runId), "the running lane's rows are still there").toBeGreaterThanOrEqual(3)
    } finally {
      probe.kill("SIGTERM")
      expect((await probe.exited).code, probe.output()).toBe(143)
    }
    expect(await rowsOfRun(runId)).toBe(0)
  }, 150_000)
})

describe("workflow-live demo interrupted mid-test", () => {
  it("Ctrl-C stops the throwaway server and removes its data directory, exit 130, one message", async () => {
    const probe = await startProbe(["demo"], { WORKFLOW_LIVE_RUN_ID: "demo_sigint" }, join(dir, "demo.ready"))
    const server = /127\.0\.0\.1:(\d+), data in (\S+)/.exec(probe.output())
    expect(server, probe.output()).not.toBeNull()
    const [, port, dataDir] = server!
    expect(port).not.toBe("5432")
    probe.kill("SIGINT", true)
    const { code, output } = await probe.exited
    expect(code, output).toBe(130)
    expect(output).toContain("DEMO")
    expect(output.match(/INTERRUPTED/g), output).toHaveLength(1)
    expect(output).toMatch(/sweep .*not needed: the demo's throwaway server is deleted with all its data/)
    expect(output).not.toMatch(/✗ sweep|Cannot open the workflow database|FiberFailure/)
    expect(existsSync(dataDir!), output).toBe(false)
    const stillListening = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1")
      socket.once("connect", () => (socket.destroy(), resolve(true)))
      socket.once("error", () => resolve(false))
    })
    expect(stillListening).toBe(false)
  }, 150_000)
})
