// The spare swapped into place on a warm reset, on the real server: what is renamed, what is dropped by the
// deferred work, what is never touched. The sentinel databases are fingerprinted around every test.
import { Cause, Effect, Exit, Option, Redacted, Scope } from "effect"
import { spawn } from "node:child_process"
import pg from "pg"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as Migrations from "../../src/Migrations.js"
import { dropDatabases, dsnFor, ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as Cli from "../support/cli.js"
import { laneDsn, workflowDatabase } from "../support/lane.js"
import * as TestDatabase from "../support/testDatabase.js"

// This file's own names; nothing else is ever dropped here.
const main = "wl_it_spare_main"
const cleanup = () => dropDatabases([main], [Migrations.templatePrefix(main)])

const targetFor = (database: string) =>
  Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(dsnFor(database))), {}, { database }))

const resetOk = async (options: DatabaseReset.Options = {}) => {
  const exit = await Effect.runPromiseExit(DatabaseReset.reset(await targetFor(main), options))
  if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  return exit.value
}

/** A reset whose scope stays open: it returns before its deferred work; `close` waits for that. */
const resetOpen = async (options: DatabaseReset.Options = {}) => {
  const scope = Effect.runSync(Scope.make())
  const result = await Effect.runPromise(Scope.extend(DatabaseReset.resetScoped(await targetFor(main), options), scope))
  return { result, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

interface Row {
  readonly name: string
  readonly oid: number
  readonly comment: string | null
}

const family = (): Promise<ReadonlyArray<Row>> =>
  withClient("postgres", async (c) =>
    (await c.query<Row>(
      `SELECT datname AS name, oid::int AS oid, shobj_description(oid, 'pg_database') AS comment FROM pg_database
        WHERE datname = $1 OR starts_with(datname, $2) ORDER BY 1`,
      [main, `${main}__`]
    )).rows)

const named = (rows: ReadonlyArray<Row>, prefix: string) => rows.filter((r) => r.name.startsWith(prefix))
const spareOf = (rows: ReadonlyArray<Row>) => named(rows, `${main}__spare_`)
const retiredOf = (rows: ReadonlyArray<Row>) => named(rows, `${main}__old_`)
const current = (rows: ReadonlyArray<Row>) => rows.find((r) => r.name === main)

const stepNames = (result: DatabaseReset.ResetResult) => result.steps.map((s) => s.name)
const detailOf = (result: DatabaseReset.ResetResult, name: DatabaseReset.StepName) =>
  result.steps.find((s) => s.name === name)?.detail ?? ""

let before: Record<string, string>

beforeAll(async () => {
  await ensureSentinels()
  await cleanup()
  before = await fingerprint()
  await resetOk() // cold: template, then (deferred) the first spare
})

afterEach(async () => {
  expect(await fingerprint()).toEqual(before)
})

afterAll(cleanup)

describe("a warm reset swaps the spare into place", () => {
  it("the spare becomes the database (its OID, the marker, the identity check) and the deferred work makes the next", async () => {
    const was = await family()
    const [spare] = spareOf(was)
    expect(spare?.comment).toMatch(/^workflow-live: spare/)
    const old = current(was)!
    const { close, result } = await resetOpen()
    expect(stepNames(result)).toEqual(["guard", "lock", "inspect", "swap", "identity"])
    expect(result.mode).toBe("warm")
    expect(result.spare).toBe(spare!.name)
    expect(detailOf(result, "identity")).toContain(`oid ${spare!.oid}`)
    const swapped = current(await family())!
    expect(swapped.oid).toBe(spare!.oid)
    expect(swapped.oid).not.toBe(old.oid)
    expect(swapped.comment).toBe(DatabaseReset.marker)
    await close()
    const after = await family()
    expect(retiredOf(after)).toEqual([])
    expect(spareOf(after).map((r) => r.name)).toEqual([spare!.name])
    expect(spareOf(after)[0]!.oid).not.toBe(spare!.oid)
    expect(spareOf(after)[0]!.comment).toBe(spare!.comment)
    // the swapped-in database is the migrated schema
    const migrations = await withClient(main, async (c) =>
      (await c.query("SELECT migration_id FROM effect_sql_migrations ORDER BY 1")).rows.map((r) => r.migration_id))
    expect(migrations).toEqual([1, 2, 3, 4, 5])
  })

  it("the database renamed away is marked retired, and the deferred work drops it", async () => {
    const old = current(await family())!
    const result = await resetOk({ deferred: "leave" })
    expect(result.spare).toBeDefined()
    const left = await family()
    const retired = retiredOf(left)
    expect(retired.map((r) => r.oid)).toEqual([old.oid])
    expect(retired[0]!.name).toMatch(new RegExp(`^${main}__old_\\d{13}$`))
    expect(retired[0]!.comment).toMatch(/^workflow-live: retired/)
    expect(spareOf(left)).toEqual([])
    const done = await Effect.runPromise(DatabaseReset.finishDeferred(await targetFor(main)))
    expect(done).toContain(`dropped ${retired[0]!.name}`)
    expect(done).toMatch(/cloned .*__spare_/)
    const after = await family()
    expect(retiredOf(after)).toEqual([])
    expect(spareOf(after).length).toBe(1)
  })

  it("terminates a session connected to the database, and retries the rename while a session blocks it", async () => {
    const held = new pg.Client(TestDatabase.connection(main, "wl-it-held-open"))
    await held.connect()
    const ended = new Promise<Error>((resolve) => held.on("error", resolve))
    // a session on the spare keeps the rename waiting (PostgreSQL waits 5 s, then fails with 55006)
    const [spare] = spareOf(await family())
    const onSpare = new pg.Client(TestDatabase.connection(spare!.name, "wl-it-on-the-spare"))
    await onSpare.connect()
    const leaves = new Promise((resolve) => setTimeout(resolve, 5_500)).then(() => onSpare.end())
    try {
      const result = await resetOk()
      expect(result.terminated.map((s) => s.applicationName)).toContain("wl-it-held-open")
      expect(detailOf(result, "swap")).toMatch(/attempt [2-9]: a session was still leaving/)
      expect(detailOf(result, "swap")).toMatch(/terminated 1 session\(s\):[\s\S]*wl-it-held-open/)
      expect((await ended).message).toMatch(/terminat/i)
      expect(current(await family())!.oid).toBe(spare!.oid)
    } finally {
      await leaves
      await held.end().catch(() => undefined)
    }
  }, 30_000)

  it("a second reset waits for the first one's deferred work, then swaps in the spare it made", async () => {
    const spareDone: Array<number> = []
    const first = await resetOpen({
      onStep: (step) => Effect.sync(() => step.name === "spare" && spareDone.push(Date.now()))
    })
    let lockedAt = 0
    const second = await resetOk({ onStep: (step) => Effect.sync(() => step.name === "lock" && (lockedAt = Date.now())) })
    await first.close()
    expect(spareDone.length).toBe(1)
    expect(lockedAt).toBeGreaterThanOrEqual(spareDone[0]!)
    expect(stepNames(second)).toContain("swap")
    expect(first.result.spare).toBe(second.spare)
  })

  it("a lane's protected reset runs the deferred work under its shared lock, while the tests would run", async () => {
    const scope = Effect.runSync(Scope.make())
    const done: Array<string> = []
    const target = await targetFor(main)
    const protectedReset = await Effect.runPromise(Scope.extend(
      DatabaseReset.resetAndProtect(target, { onStep: (step) => Effect.sync(() => step.name === "spare" && done.push(step.detail)) }),
      scope
    ))
    try {
      expect(protectedReset.result.spare).toBeDefined()
      for (let i = 0; i < 200 && done.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25))
      expect(done[0]).toMatch(/dropped .*__old_.*cloned .*__spare_/)
      const rows = await family()
      expect(retiredOf(rows)).toEqual([])
      expect(spareOf(rows).length).toBe(1)
      // the lock is still held, shared, by the lane: a reset now would wait
      const held = await withClient("postgres", async (c) =>
        (await c.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted
            AND classid = $1::int4::oid AND objid = hashtext($2)::oid`,
          [DatabaseReset.lockNamespace, main]
        )).rows[0].n)
      expect(held).toBe(1)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})

describe("a prepared reset (what a lane does while preflight runs)", () => {
  const prepared = async () => {
    const scope = Effect.runSync(Scope.make())
    const ready = await Effect.runPromise(Scope.extend(DatabaseReset.prepare(await targetFor(main)), scope))
    return { ready, scope, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  }
  /** The prepared session: idle on the maintenance database, its last statement the warm-up read of `main`. */
  const preparedSessions = () =>
    withClient("postgres", async (c) =>
      (await c.query<{ pid: number; name: string }>(
        `SELECT pid, application_name AS name FROM pg_stat_activity
          WHERE datname = 'postgres' AND state = 'idle' AND query LIKE '%pg_try_advisory_lock%' AND query LIKE $1`,
        [`%${main}%`]
      )).rows)
  const advisoryHolders = () =>
    withClient("postgres", async (c) =>
      (await c.query<{ mode: string; name: string }>(
        `SELECT l.mode, a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid AND l.objid = hashtext($2)::oid`,
        [DatabaseReset.lockNamespace, main]
      )).rows)

  it("prepares without the lock and without a write, even while a lane holds the lock; the reset then swaps", async () => {
    const lane = new pg.Client(TestDatabase.connection("postgres", "wl-it-a-lane"))
    await lane.connect()
    await lane.query("SELECT pg_advisory_lock_shared($1, hashtext($2))", [DatabaseReset.lockNamespace, main])
    const was = await family()
    const { close, ready, scope } = await prepared() // would wait 60 s if it took the lock
    try {
      expect(await family()).toEqual(was)
      expect((await advisoryHolders()).map((h) => h.name)).toEqual(["wl-it-a-lane"])
      expect((await preparedSessions()).map((s) => s.name)).toEqual([DatabaseReset.applicationName])
      await lane.end()
      const [spare] = spareOf(was)
      const result = await Effect.runPromise(Scope.extend(ready.reset, scope))
      expect(stepNames(result)).toEqual(["guard", "lock", "inspect", "swap", "identity"])
      expect(result.spare).toBe(spare!.name)
      expect(current(await family())!.oid).toBe(spare!.oid)
      // the reset ran on the prepared session: it holds the lock while the deferred work runs, or is idle after
      expect((await preparedSessions()).length + (await advisoryHolders()).length).toBeGreaterThan(0)
    } finally {
      await lane.end().catch(() => undefined)
      await close()
    }
    expect(spareOf(await family()).length).toBe(1)
    expect(retiredOf(await family())).toEqual([])
  })

  it("reads the databases again under its lock: a reset that ran since it was prepared is no problem", async () => {
    const { close, ready, scope } = await prepared()
    try {
      const between = await resetOk() // swaps in the spare the prepared one saw, and makes the next
      const next = spareOf(await family())[0]!
      expect(next.name).toBe(between.spare)
      const result = await Effect.runPromise(Scope.extend(ready.reset, scope))
      expect(result.spare).toBe(next.name)
      expect(current(await family())!.oid).toBe(next.oid)
    } finally {
      await close()
    }
  })

  it("a prepared session the server ended meanwhile is replaced; a prepared reset runs once", async () => {
    const { close, ready, scope } = await prepared()
    try {
      const [session] = await preparedSessions()
      expect(session).toBeDefined()
      await withClient("postgres", (c) => c.query("SELECT pg_terminate_backend($1, 5000)", [session!.pid]))
      const result = await Effect.runPromise(Scope.extend(ready.reset, scope))
      expect(result.spare).toBeDefined()
      const again = await Effect.runPromiseExit(Scope.extend(ready.reset, scope))
      expect(Exit.isFailure(again) && Cause.isDie(again.cause) ? Cause.pretty(again.cause) : "").toMatch(/runs once; prepare another/)
    } finally {
      await close()
    }
  })

  it("a prepared lane reset holds the shared lock under the lane's name", async () => {
    const { close, ready, scope } = await prepared()
    try {
      const protectedReset = await Effect.runPromise(Scope.extend(ready.resetAndProtect, scope))
      expect(protectedReset.result.spare).toBeDefined()
      expect(await advisoryHolders()).toEqual([{ mode: "ShareLock", name: DatabaseReset.laneApplicationName }])
    } finally {
      await close()
    }
    expect(await advisoryHolders()).toEqual([])
  })
})

describe("the spare's fallbacks and safety", () => {
  it("a spare of other migrations is not swapped in: the reset clones, and the deferred work drops it", async () => {
    const [spare] = spareOf(await family())
    const stale = `${main}__spare_0123456789ab`
    await withClient("postgres", async (c) => {
      await c.query(`ALTER DATABASE ${spare!.name} RENAME TO ${stale}`)
      await c.query(`COMMENT ON DATABASE ${stale} IS 'workflow-live: spare for migrations 0123456789ab; a reset renames it into place'`)
    })
    const { close, result } = await resetOpen()
    expect(stepNames(result)).toEqual(["guard", "lock", "inspect", "drop", "clone", "identity", "migrate"])
    expect(result.spare).toBeUndefined()
    expect(spareOf(await family()).map((r) => r.name)).toContain(stale)
    await close()
    const after = spareOf(await family()).map((r) => r.name)
    expect(after).not.toContain(stale)
    expect(after).toEqual([spare!.name])
  })

  it("an unmarked lookalike spare or retired database is never touched, and says so", async () => {
    const [spare] = spareOf(await family())
    await resetOk({ spare: false }) // drops the marked spare
    expect(spareOf(await family())).toEqual([])
    const retired = `${main}__old_0000000000001`
    await withClient("postgres", async (c) => {
      await c.query(`CREATE DATABASE ${spare!.name}`)
      await c.query(`CREATE DATABASE ${retired}`)
    })
    await withClient(spare!.name, (c) => c.query("CREATE TABLE precious AS SELECT 'hand-made'::text AS v"))
    try {
      const details: Array<string> = []
      const result = await resetOk({ onStep: (step) => Effect.sync(() => step.name === "spare" && details.push(step.detail)) })
      expect(stepNames(result)).not.toContain("swap")
      expect(detailOf(result, "inspect")).toContain(`\`${spare!.name}\` looks like the harness's but has no workflow-live marker`)
      expect(detailOf(result, "inspect")).toContain(`\`${retired}\` looks like the harness's`)
      expect(details[0]).toContain(`no spare: \`${spare!.name}\` looks like the harness's`)
      const rows = await family()
      expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining([spare!.name, retired]))
      const survived = await withClient(spare!.name, async (c) => (await c.query("SELECT v FROM precious")).rows)
      expect(survived).toEqual([{ v: "hand-made" }])
    } finally {
      await dropDatabases([spare!.name, retired])
    }
    await resetOk() // the spare comes back once the name is free
    expect(spareOf(await family()).map((r) => r.comment?.slice(0, 20))).toEqual(["workflow-live: spare"])
  })

  it("a spare a killed deferred work left unmarked (the template still says it was cloning it) is the harness's: dropped, and a new one made", async () => {
    const [spare] = spareOf(await family())
    await resetOk({ spare: false }) // drops the marked spare
    const template = named(await family(), `${main}__tpl_`)[0]!
    // the state a deferred work killed between CREATE DATABASE and the spare's COMMENT leaves
    await withClient("postgres", async (c) => {
      await c.query(`COMMENT ON DATABASE ${template.name} IS '${template.comment}; cloning ${spare!.name}'`)
      await c.query(`CREATE DATABASE ${spare!.name} TEMPLATE ${template.name}`)
    })
    const result = await resetOk()
    expect(detailOf(result, "inspect")).not.toContain("looks like the harness's")
    const after = await family()
    // the half-made one was dropped and a marked spare cloned; the template's note is gone
    expect(spareOf(after).map((r) => r.comment?.slice(0, 20))).toEqual(["workflow-live: spare"])
    expect(named(after, `${main}__tpl_`)[0]!.comment).toBe(template.comment)
  })

  it("an unmarked workflow database with content is refused, and the spare is not swapped in", async () => {
    await withClient("postgres", (c) => c.query(`COMMENT ON DATABASE ${main} IS NULL`))
    await withClient(main, (c) => c.query("INSERT INTO customers (external_id, name, email) VALUES ('k', 'K', 'k@example.test')"))
    const was = await family()
    const exit = await Effect.runPromiseExit(DatabaseReset.reset(await targetFor(main)))
    const failure = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
    expect((failure as DatabaseReset.DatabaseResetError | undefined)?.reason).toBe("unmarked-database-not-empty")
    expect(await family()).toEqual(was)
    const confirmed = await resetOk({ confirmDrop: main })
    expect(stepNames(confirmed)).toContain("swap")
    expect(current(await family())!.comment).toBe(DatabaseReset.marker)
  })
})

describe("workflow-live reset, one process", () => {
  // the CLI resets only the workflow database; other files' lanes share it, and the reset lock orders them
  const settled = async () => {
    for (let waited = 0; waited < 60_000; waited += 50) {
      const { busy, spares, retired } = await withClient("postgres", async (c) =>
        (await c.query<{ spares: number; retired: number; busy: number }>(
          `SELECT (SELECT count(*)::int FROM pg_database WHERE starts_with(datname, $1)) AS spares,
              (SELECT count(*)::int FROM pg_database WHERE starts_with(datname, $2)) AS retired,
              (SELECT count(*)::int FROM pg_stat_activity WHERE application_name LIKE '%deferred work') AS busy`,
          [`${workflowDatabase}__spare_`, `${workflowDatabase}__old_`]
        )).rows[0]!)
      if (spares === 1 && retired === 0 && busy === 0) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error("the background deferred work did not finish within 60 s")
  }

  it("prints the result, ends, and leaves the deferred work to a background process that makes the next spare", async () => {
    const env = { TENDERBOT_WORKFLOW_DB_DSN: laneDsn() }
    const first = await Cli.workflowLive(["reset"], { env })
    expect(first.code, first.output).toBe(0)
    await settled()
    const second = await Cli.workflowLive(["reset"], { env })
    expect(second.code, second.output).toBe(0)
    expect(second.output).toMatch(/ swap +\d+ ms +tenderbot_workflow_test__spare_[0-9a-f]{12} renamed into place/)
    expect(second.output).toMatch(/ total +\d+ ms +warm reset\n +spare +0 ms +left to a background process \(pid \d+\)/)
    await settled()
  }, 180_000)

  it("a reader that goes away (`reset | head -1`) does not stop the reset half done: it ends, exit 0, its deferred work runs", async () => {
    const env = { ...process.env, TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), NO_COLOR: "1" }
    const child = spawn(process.execPath, ["bin/workflow-live.js", "reset"], { cwd: Cli.root, env, stdio: ["ignore", "pipe", "pipe"] })
    // nobody reads the output: every write to it fails (EPIPE)
    child.stdout.destroy()
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)))
    expect(code, stderr).toBe(0)
    expect(stderr).not.toMatch(/EPIPE|Error/)
    // the swap is whole and the background process did the rest: one spare, nothing retired left
    await settled()
  }, 120_000)

  // a bare `reset` runs its own entry (src/cli/resetMain.ts), not the full CLI: the signal, exit code and
  // output rules are the same
  it("interrupted while it waits for the reset lock: exits 130, reports no failure, leaves no session", async () => {
    const env = { TENDERBOT_WORKFLOW_DB_DSN: laneDsn() }
    const holder = new pg.Client(TestDatabase.connection("postgres", "wl-it-holding-the-reset-lock"))
    await holder.connect()
    try {
      await holder.query("SELECT pg_advisory_lock($1, hashtext($2))", [DatabaseReset.lockNamespace, workflowDatabase])
      const running = Cli.startWorkflowLive(["reset"], { env })
      await Cli.waitFor(() => /lock +waiting: /.test(running.output()), 30_000, "the reset waiting for the lock")
      running.kill("SIGINT")
      const outcome = await running.exited
      expect(outcome.code, outcome.output).toBe(130)
      expect(outcome.output).toContain("wl-it-holding-the-reset-lock")
      expect(outcome.output).not.toMatch(/error|failed|refused/i)
      expect(outcome.output).not.toMatch(Cli.stackLine)
      const left = await holder.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE $1", [
        `%reset (pid ${running.pid})`
      ])
      expect(left.rows[0]!.n).toBe(0)
    } finally {
      await holder.end()
    }
    await settled()
  }, 120_000)
})
