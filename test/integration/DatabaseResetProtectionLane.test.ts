// A real `workflow-live run` whose lock is lost mid-test: it must fail loudly with protection-lost,
// cancel its tests, sweep its rows and exit non-zero, not go on unprotected. On a throwaway server of its
// own (the lane resets `tenderbot_workflow_test`, which other lane tests use on the test server), with
// sentinel databases of its own, proven untouched.
import { Effect, Exit, Redacted, Scope } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import * as Cli from "../support/cli.js"
import { probeConfig, readReport } from "../support/lane.js"
import { ensureSentinels, fingerprint } from "../support/sentinels.js"

const dir = mkdtempSync(join(tmpdir(), "wl-protect-lane-"))
const scope = Effect.runSync(Scope.make())
let server: EmbeddedPostgres.EmbeddedServer
let before: Record<string, string>

const query = async <R extends object>(database: string, text: string, params: ReadonlyArray<unknown> = []) => {
  const client = new pg.Client({
    host: server.host,
    port: server.port,
    user: server.user,
    password: Redacted.value(server.password),
    database
  })
  await client.connect()
  try {
    return (await client.query<R>(text, [...params])).rows
  } finally {
    await client.end()
  }
}

/** The embedded server's own sentinels: every row of every table, and the database's identity. */
const sentinelState = async () => {
  const state: Record<string, unknown> = {}
  for (const name of ["tenderbot", "tenderbot_test"]) {
    state[name] = {
      database: await query("postgres", "SELECT oid, datname FROM pg_database WHERE datname = $1", [name]),
      rows: await query(name, "SELECT * FROM sentinel ORDER BY id")
    }
  }
  return state
}

beforeAll(async () => {
  await ensureSentinels()
  before = await fingerprint()
  server = await Effect.runPromise(EmbeddedPostgres.make().pipe(Scope.extend(scope)))
  for (const name of ["tenderbot", "tenderbot_test"]) {
    await query("postgres", `CREATE DATABASE ${name}`)
    await query(name, "CREATE TABLE sentinel (id int PRIMARY KEY, note text NOT NULL)")
    await query(name, "INSERT INTO sentinel VALUES (1, $1)", [`${name} must never be dropped or written by a lane`])
  }
}, 60_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(dir, { recursive: true, force: true })
})

describe("workflow-live run whose protection is lost mid-test", () => {
  it("fails loudly with protection-lost, cancels the test, sweeps the run's rows and exits 1", async () => {
    const sentinels = await sentinelState()
    const runId = "it_protection_lost"
    const ready = join(dir, "ready")
    const lane = Cli.startWorkflowLive(
      ["run", "--stand-ins", "--report-dir", dir, "--", "--config", probeConfig, "hang"],
      {
        env: {
          TENDERBOT_WORKFLOW_DB_DSN: Redacted.value(server.dsn("tenderbot_workflow_test")),
          WORKFLOW_LIVE_RUN_ID: runId,
          WORKFLOW_LIVE_PROBE_READY: ready
        }
      }
    )
    try {
      await Cli.waitForFile(ready, 90_000)
    } catch (e) {
      lane.kill("SIGKILL")
      throw new Error(`the lane never reached its test:\n${lane.output()}`, { cause: e })
    }
    const externalId = readFileSync(ready, "utf8")
    expect(await query("tenderbot_workflow_test", "SELECT 1 FROM customers WHERE external_id = $1", [externalId])).toHaveLength(1)

    // someone ends the session that holds the lane's lock (a person, a script, a restart of that backend)
    const ended = await query<{ pid: number }>(
      "postgres",
      "SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'workflow-live lane running tests%'"
    )
    expect(ended).toHaveLength(1)
    await query("postgres", "SELECT pg_terminate_backend($1)", [ended[0]!.pid])

    const outcome = await lane.exited
    expect(outcome.code, outcome.output).toBe(1)
    expect(outcome.output).toContain("(protection-lost)")
    expect(outcome.output).toMatch(/terminated it \(pg_terminate_backend/)
    expect(outcome.output).toMatch(/✗ tests .*protection/)
    expect(outcome.output).not.toMatch(Cli.stackLine)
    expect(outcome.output).not.toContain(Redacted.value(server.password))
    const report = readReport(dir)
    expect(report.outcome).toBe("failed")
    expect(report.exitCode).toBe(1)
    expect(report.reason).toContain("protection-lost")
    // the cancelled test's rows are gone, by its own release or the lane's sweep
    expect(await query("tenderbot_workflow_test", "SELECT 1 FROM customers WHERE starts_with(external_id, $1)", [`wl-${runId}-`]))
      .toHaveLength(0)
    expect(await sentinelState()).toEqual(sentinels)
    expect(await fingerprint()).toEqual(before)
  }, 180_000)
})
