// `workflow-live run` end to end on the real tenderbot_workflow_test, and interrupted mid-test (Ctrl-C to
// the whole process group, SIGTERM to the lane process): Vitest skips finalizers on signals, so the lane
// itself must sweep the run's rows before exiting. Every lane run of the integration lane is in this one
// file, so they never reset the database under each other.
import { spawn } from "node:child_process"
import { connect } from "node:net"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

const workflowDsn = TestDatabase.url("tenderbot_workflow_test")
// a DSN with a password in it, to prove the password never shows
const secretDsn = TestDatabase.url("tenderbot_workflow_test", { password: TestDatabase.secret })

const dir = mkdtempSync(join(tmpdir(), "wl-signals-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const rowsOfRun = (runId: string): Promise<number> =>
  withClient("tenderbot_workflow_test", async (client) => {
    const result = await client.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM customers WHERE external_id LIKE $1)
            + (SELECT count(*) FROM tenders WHERE external_id LIKE $1)
            + (SELECT count(*) FROM alert_profiles p JOIN customers c ON c.id = p.customer_id
               WHERE c.external_id LIKE $1) AS n`,
      [`wl-${runId}-%`]
    )
    return Number(result.rows[0]!.n)
  })

const waitFor = async (predicate: () => boolean, ms: number): Promise<void> => {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

// Starts the CLI in its own process group (like a terminal's foreground job) on the hanging probe suite
// and waits until the probe holds its fixtures.
const startProbe = async (args: ReadonlyArray<string>, env: Record<string, string>, ready: string) => {
  const child = spawn(
    process.execPath,
    ["bin/workflow-live.js", ...args, "--", "--config", "test/support/sigint/vitest.config.ts"],
    {
      detached: true,
      env: { ...process.env, ...env, WORKFLOW_LIVE_PROBE_READY: ready, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"]
    }
  )
  let output = ""
  child.stdout.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr.on("data", (d: Buffer) => (output += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  try {
    await waitFor(() => existsSync(ready), 90_000)
  } catch (e) {
    child.kill("SIGKILL")
    throw new Error(`\`${args.join(" ")}\` never reached its test:\n${output}`, { cause: e })
  }
  return { child, exited, output: () => output }
}

const interruptedLane = async (signal: "SIGINT" | "SIGTERM", toGroup: boolean) => {
  const runId = `sig_${signal.toLowerCase()}_${process.pid}`
  const ready = join(dir, `${runId}.ready`)
  const probe = await startProbe(["run", "--stand-ins", "--report-dir", join(dir, runId)], {
    TENDERBOT_WORKFLOW_DB_DSN: secretDsn,
    WORKFLOW_LIVE_RUN_ID: runId
  }, ready)
  const during = await rowsOfRun(runId)
  if (toGroup) process.kill(-probe.child.pid!, signal)
  else probe.child.kill(signal)
  const code = await probe.exited
  return { runId, during, code, output: probe.output(), after: await rowsOfRun(runId), externalId: readFileSync(ready, "utf8") }
}

const lane = (args: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ["bin/workflow-live.js", "run", ...args], {
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("exit", (code) => resolve({ code, output }))
  })

describe("workflow-live run", () => {
  it("runs the phases in order, passes Vitest arguments through, and writes the reports", async () => {
    const reportDir = join(dir, "reports")
    const summaryFile = join(dir, "step-summary.md")
    const { code, output } = await lane(
      ["--stand-ins", "--report-dir", reportDir, "--", "-t", "matches new tenders"],
      {
        TENDERBOT_WORKFLOW_DB_DSN: secretDsn,
        WORKFLOW_LIVE_RUN_ID: "it_reports",
        GITHUB_STEP_SUMMARY: summaryFile
      }
    )
    expect(code, output).toBe(0)
    const order = ["run id", "guard", "preflight", "reset", "tests", "leak check"].map((p) =>
      output.search(new RegExp(`✓ ${p}\\s+\\d`))
    )
    expect(order.every((i) => i >= 0), output).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    const report = JSON.parse(readFileSync(join(reportDir, "report.json"), "utf8")) as {
      outcome: string
      runId: string
      phases: ReadonlyArray<{ name: string; status: string; ms: number }>
      tests: { passed: number; failed: number; skipped: number; externalCalls: Record<string, number> }
      target: { dsn: string }
    }
    expect(report.outcome).toBe("passed")
    expect(report.runId).toBe("it_reports")
    expect(report.tests.passed).toBe(1) // only the -t filtered test ran
    expect(report.tests.skipped).toBeGreaterThanOrEqual(2)
    // the sample job called both APIs: 2 LLM summaries + 2 tender fetches, counted per origin
    expect(Object.values(report.tests.externalCalls).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4)
    expect(report.phases.map((p) => p.name)).toEqual(["run id", "guard", "preflight", "reset", "tests", "leak check"])
    expect(output).toMatch(/PASSED {2}1 passed, 0 failed, \d+ skipped, \d+ external call\(s\), run it_reports/)
    const junit = readFileSync(join(reportDir, "junit.xml"), "utf8")
    expect(junit).toContain("matches new tenders")
    expect(readFileSync(summaryFile, "utf8")).toContain("### workflow-live: passed")
    for (const text of [output, junit, JSON.stringify(report), readFileSync(summaryFile, "utf8")]) {
      expect(text).not.toContain(TestDatabase.secret)
    }
  }, 120_000)

  it("a failing phase is named, exits 1, and the report says failed", async () => {
    const reportDir = join(dir, "reports-fail")
    const { code, output } = await lane(["--report-dir", reportDir], {
      TENDERBOT_WORKFLOW_DB_DSN: workflowDsn,
      TENDERBOT_LLM_BASE_URL: undefined,
      TENDERBOT_LLM_API_KEY: undefined,
      TENDERBOT_TENDERS_API_URL: undefined,
      WORKFLOW_LIVE_ON_MISSING: "fail"
    })
    expect(code, output).toBe(1)
    expect(output).toContain("failed in phase `preflight`")
    expect(output).toContain("TENDERBOT_LLM_BASE_URL")
    const report = JSON.parse(readFileSync(join(reportDir, "report.json"), "utf8")) as { outcome: string; tests: unknown }
    expect(report.outcome).toBe("failed")
    expect(report.tests).toBeNull()
  }, 60_000)
})

describe("workflow-live run interrupted mid-test", () => {
  it("Ctrl-C (SIGINT to the process group) sweeps the run's rows and exits 130", async () => {
    await ensureSentinels()
    const before = await fingerprint()
    const r = await interruptedLane("SIGINT", true)
    expect(r.externalId.startsWith(`wl-${r.runId}-`)).toBe(true)
    expect(r.during, "rows existed while the test ran").toBeGreaterThanOrEqual(3)
    expect(r.code, r.output).toBe(130)
    expect(r.output).toMatch(/sweep\s.*removed \d+ row\(s\) of run/)
    expect(r.after, r.output).toBe(0)
    expect(r.output).not.toContain(TestDatabase.secret)
    expect(await fingerprint()).toEqual(before)
  }, 150_000)

  it("SIGTERM to the lane process alone sweeps the run's rows and exits 143", async () => {
    const r = await interruptedLane("SIGTERM", false)
    expect(r.during).toBeGreaterThanOrEqual(3)
    expect(r.code, r.output).toBe(143)
    expect(r.after, r.output).toBe(0)
    const report = JSON.parse(readFileSync(join(dir, r.runId, "report.json"), "utf8")) as { outcome: string }
    expect(report.outcome).toBe("interrupted")
  }, 150_000)
})

describe("a second lane on the same server", () => {
  it("its reset waits for the lane running tests, then fails naming it; the first lane's rows survive", async () => {
    const runId = `busy_${process.pid}`
    const probe = await startProbe(["run", "--stand-ins", "--report-dir", join(dir, runId)], {
      TENDERBOT_WORKFLOW_DB_DSN: workflowDsn,
      WORKFLOW_LIVE_RUN_ID: runId
    }, join(dir, `${runId}.ready`))
    try {
      expect(await rowsOfRun(runId)).toBeGreaterThanOrEqual(3)
      const second = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, ["bin/workflow-live.js", "reset"], {
          env: {
            ...process.env,
            NO_COLOR: "1",
            TENDERBOT_WORKFLOW_DB_DSN: workflowDsn,
            WORKFLOW_LIVE_LOCK_TIMEOUT: "2 seconds"
          },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stdout.on("data", (d: Buffer) => (output += d.toString()))
        child.stderr.on("data", (d: Buffer) => (output += d.toString()))
        child.on("exit", (code) => resolve({ code, output }))
      })
      expect(second.code, second.output).toBe(1)
      expect(second.output).toContain("lock-timeout")
      expect(second.output).toContain("workflow-live lane running tests")
      expect(await rowsOfRun(runId), "the running lane's rows are still there").toBeGreaterThanOrEqual(3)
    } finally {
      probe.child.kill("SIGTERM")
      expect(await probe.exited, probe.output()).toBe(143)
    }
    expect(await rowsOfRun(runId)).toBe(0)
  }, 150_000)
})

describe("workflow-live demo interrupted mid-test", () => {
  it("Ctrl-C stops the throwaway server and removes its data directory, exit 130", async () => {
    const probe = await startProbe(["demo"], { WORKFLOW_LIVE_RUN_ID: "demo_sigint" }, join(dir, "demo.ready"))
    const output = probe.output()
    const server = /127\.0\.0\.1:(\d+), data in (\S+)/.exec(output)
    expect(server, output).not.toBeNull()
    const [, port, dataDir] = server!
    expect(port).not.toBe("5432")
    expect(existsSync(dataDir!)).toBe(true)
    process.kill(-probe.child.pid!, "SIGINT")
    expect(await probe.exited, probe.output()).toBe(130)
    expect(existsSync(dataDir!), probe.output()).toBe(false)
    const stillListening = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1")
      socket.once("connect", () => (socket.destroy(), resolve(true)))
      socket.once("error", () => resolve(false))
    })
    expect(stillListening).toBe(false)
    expect(output).toContain("DEMO")
  }, 150_000)
})
