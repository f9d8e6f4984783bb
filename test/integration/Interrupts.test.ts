// Ctrl-C through the commands the README gives (`npx mise run ...`), as a terminal delivers it: SIGINT to
// the foreground process group, mid-test. mise forwards the signal again to its task, so the lane sees it
// more than once. Afterwards: exit 130, no throwaway server and no data directory left, no process left.
// Each lane here runs on a server of its own (never the test server's tenderbot_workflow_test, which
// LaneRun.test.ts resets).
import { Effect, Exit, Redacted, Scope } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import * as StandIns from "../../src/StandIns.js"
import { alive, descendants, type Job, listening, start, waitFor, waitForFile } from "../support/processes.js"

const dir = mkdtempSync(join(tmpdir(), "wl-it-interrupts-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const probeArgs = ["--config", "test/support/lane/vitest.config.ts", "test/support/lane/hang.live.ts"]

/** `npx mise run <task> -- <args>` as a foreground job, on the probe suite that holds its fixtures forever. */
const miseRun = (task: string, args: ReadonlyArray<string>, env: Record<string, string>, ready: string): Job =>
  start("npx", ["mise", "run", task, "--", ...args], {
    ...process.env,
    NO_COLOR: "1",
    MISE_YES: "1",
    WORKFLOW_LIVE_PROBE_READY: ready,
    ...env
  })

/** Ctrl-C to the job's process group once the probe holds its fixtures; returns what ran before it. */
const interrupt = async (job: Job, ready: string) => {
  await waitForFile(job, ready)
  const started = descendants(job.child.pid!)
  process.kill(-job.child.pid!, "SIGINT")
  const code = await job.exited
  return { code, started }
}

/** Every process the job started is gone (a moment's grace for the last ones to exit). */
const expectNothingLeft = async (job: Job, started: ReadonlyArray<{ pid: number; command: string }>) => {
  expect(started.length).toBeGreaterThan(2)
  await waitFor("every process the task started to exit", () => started.every((p) => !alive(p.pid)), 15_000).catch(() => {
    const left = started.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.command}`)
    expect(left, job.output()).toEqual([])
  })
}

// each case has its own servers, ports, files and process group: they run side by side
describe.concurrent("Ctrl-C through npx mise run", () => {
  it("`demo`: the lane stops, the throwaway server is stopped and its data directory removed, exit 130", async () => {
    const ready = join(dir, "demo.ready")
    const job = miseRun("demo", ["--", ...probeArgs], { WORKFLOW_LIVE_RUN_ID: "demo_mise_sigint" }, ready)
    const { code, started } = await interrupt(job, ready)
    const output = job.output()
    const server = /127\.0\.0\.1:(\d+), data in (\S+)/.exec(output)
    expect(server, output).not.toBeNull()
    expect(code, output).toBe(130)
    expect(existsSync(server![2]!), output).toBe(false)
    expect(await listening(Number(server![1]))).toBe(false)
    expect(started.some((p) => /bin\/postgres/.test(p.command)), output).toBe(true)
    expect(output).toContain("INTERRUPTED")
    await expectNothingLeft(job, started)
  }, 180_000)

  it("`test-workflow-live`: the lane sweeps the run's rows and stops every process, exit 130", async () => {
    const scope = Effect.runSync(Scope.make())
    try {
      const server = await Effect.runPromise(EmbeddedPostgres.make({ authMethod: "trust" }).pipe(Scope.extend(scope)))
      const apis = await Effect.runPromise(StandIns.make().pipe(Scope.extend(scope)))
      const ready = join(dir, "live.ready")
      const runId = `mise_sigint_${process.pid}`
      const job = miseRun("test-workflow-live", probeArgs, {
        TENDERBOT_WORKFLOW_DB_DSN: Redacted.value(server.dsn("tenderbot_workflow_test")),
        ...apis.env,
        WORKFLOW_LIVE_RUN_ID: runId,
        WORKFLOW_LIVE_REPORT_DIR: join(dir, "live-report")
      }, ready)
      const { code, started } = await interrupt(job, ready)
      expect(code, job.output()).toBe(130)
      expect(job.output()).toContain("INTERRUPTED")
      const client = new pg.Client({ connectionString: Redacted.value(server.dsn("tenderbot_workflow_test")) })
      await client.connect()
      const rows = await client.query<{ n: string }>("SELECT count(*) AS n FROM customers WHERE external_id LIKE $1", [`wl-${runId}-%`])
      await client.end()
      expect(Number(rows.rows[0]!.n), job.output()).toBe(0)
      await expectNothingLeft(job, started)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 180_000)

  it("`test-workflow-live-local` on a throwaway test server: removed with its data directory, exit 130", async () => {
    const ready = join(dir, "local.ready")
    const job = miseRun("test-workflow-live-local", probeArgs, { WORKFLOW_LIVE_TEST_SERVER: "embedded" }, ready)
    const { code, started } = await interrupt(job, ready)
    const output = job.output()
    const server = /on 127\.0\.0\.1:(\d+), data in (\S+),/.exec(output)
    expect(server, output).not.toBeNull()
    expect(code, output).toBe(130)
    expect(existsSync(server![2]!), output).toBe(false)
    expect(await listening(Number(server![1]))).toBe(false)
    // the lane was interrupted, then the wrapper removed the server and said so
    expect(output).toContain("INTERRUPTED")
    expect(output).toContain("Tests used: embedded PostgreSQL")
    await expectNothingLeft(job, started)
  }, 180_000)
})
