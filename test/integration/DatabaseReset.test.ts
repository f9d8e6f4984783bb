import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { spawn } from "node:child_process"
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as Migrations from "../../src/Migrations.js"
import { dropDatabases, dsnFor, ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

// This file's own databases; nothing else is ever dropped here.
const main = "wl_it_reset_main"
const unmarked = "wl_it_reset_unmarked"
const broken = "wl_it_reset_broken"
const race = "wl_it_reset_race"
const locked = "wl_it_reset_locked"
const ours = [main, unmarked, broken, race, locked]
const cleanup = () => dropDatabases(ours, ours.map(Migrations.templatePrefix))

const targetFor = (database: string) =>
  Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(dsnFor(database))), {}, { database }))

const resetExit = async (database: string, options: DatabaseReset.Options = {}) =>
  Effect.runPromiseExit(DatabaseReset.reset(await targetFor(database), options))

const resetOk = async (database: string, options: DatabaseReset.Options = {}) => {
  const exit = await resetExit(database, options)
  if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  return exit.value
}

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected the reset to fail, it succeeded")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value as DatabaseReset.DatabaseResetError
}

const databasesLike = (prefix: string) =>
  withClient("postgres", async (c) =>
    (await c.query<{ datname: string; comment: string | null; datallowconn: boolean }>(
      `SELECT datname, shobj_description(oid, 'pg_database') AS comment, datallowconn FROM pg_database
        WHERE starts_with(datname, $1) ORDER BY 1`,
      [prefix]
    )).rows)

let before: Record<string, string>

beforeAll(async () => {
  await ensureSentinels()
  await cleanup()
  before = await fingerprint()
})

afterEach(async () => {
  expect(await fingerprint()).toEqual(before)
})

afterAll(cleanup)

describe("DatabaseReset on the real server", () => {
  it("cold reset creates, marks and migrates the database, then keeps a template", async () => {
    const result = await resetOk(main)
    expect(result.mode).toBe("cold")
    expect(result.applied).toEqual([
      "0001_customers.sql",
      "0002_alert_profiles.sql",
      "0003_tenders.sql",
      "0004_tender_matches.sql",
      "0005_notifications.sql"
    ])
    expect(result.steps.map((s) => s.name)).toEqual(["guard", "lock", "inspect", "drop", "create", "identity", "migrate", "template"])
    const tables = await withClient(main, async (c) =>
      (await c.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
      )).rows.map((r) => r.table_name))
    expect(tables).toEqual(["alert_profiles", "customers", "effect_sql_migrations", "notifications", "tender_matches", "tenders"])
    const dbs = await databasesLike(main)
    expect(dbs.find((d) => d.datname === main)?.comment).toBe(DatabaseReset.marker)
    const template = dbs.find((d) => d.datname === result.template)
    expect(template?.datallowconn).toBe(false)
    expect(template?.comment).toMatch(/^workflow-live: template/)
  })

  it("warm reset without a spare clones the template, and the Migrator finds nothing to do", async () => {
    const result = await resetOk(main, { spare: false })
    expect(result.mode).toBe("warm")
    expect(result.applied).toEqual([])
    expect(result.steps.map((s) => s.name)).toEqual(["guard", "lock", "inspect", "drop", "clone", "identity", "migrate"])
    const migrations = await withClient(main, async (c) =>
      (await c.query("SELECT migration_id FROM effect_sql_migrations ORDER BY 1")).rows.map((r) => r.migration_id))
    expect(migrations).toEqual([1, 2, 3, 4, 5])
  })

  it("the inspect line says when stale harness databases are left, and suggests prune", async () => {
    // templates of other migrations (a retired database or a stale spare is the deferred work's to drop)
    const stale = [`${main}__tpl_0000000000b1`, `${main}__tpl_0000000000b3`]
    const lookalike = `${main}__tpl_0000000000b2`
    try {
      await withClient("postgres", async (c) => {
        for (const name of [...stale, lookalike]) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
        await c.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(stale[0]!)} IS 'workflow-live: template for migrations 0000000000b1; never connect to it'`)
        await c.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(stale[1]!)} IS 'workflow-live: template for migrations 0000000000b3; never connect to it'`)
      })
      const result = await resetOk(main)
      const inspect = result.steps.find((s) => s.name === "inspect")?.detail ?? ""
      expect(inspect).toContain(`2 stale harness database(s) left (${stale[0]}, ${stale[1]}): \`workflow-live prune\` removes them`)
      expect(inspect).not.toContain(lookalike)
      expect((await databasesLike(`${main}__`)).map((d) => d.datname)).toEqual(expect.arrayContaining([...stale, lookalike]))
    } finally {
      await dropDatabases([...stale, lookalike])
    }
  })

  it("rows written before a reset are gone after it", async () => {
    await withClient(main, (c) => c.query("INSERT INTO customers (external_id, name, email) VALUES ('x', 'X', 'x@example.test')"))
    await resetOk(main)
    const count = await withClient(main, async (c) => (await c.query("SELECT count(*)::int AS n FROM customers")).rows[0].n)
    expect(count).toBe(0)
  })

  it("reports a connection held open to the database, then terminates it (the drop, with no spare)", async () => {
    const held = new pg.Client(TestDatabase.connection(main, "wl-it-held-open"))
    await held.connect()
    const ended = new Promise<Error>((resolve) => held.on("error", resolve))
    try {
      const result = await resetOk(main, { spare: false })
      expect(result.terminated.map((s) => s.applicationName)).toContain("wl-it-held-open")
      const drop = result.steps.find((s) => s.name === "drop")
      expect(drop?.detail).toMatch(/terminated 1 session\(s\):[\s\S]*wl-it-held-open/)
      expect((await ended).message).toMatch(/terminat/i)
      await expect(held.query("SELECT 1")).rejects.toThrow()
    } finally {
      await held.end().catch(() => undefined)
    }
  })

  it("a failing migration names the file and the SQL error, and leaves no template", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wl-it-migrations-"))
    try {
      await writeFile(join(dir, "0001_customers.sql"), await readFile(join(Migrations.defaultDirectory, "0001_customers.sql")))
      await writeFile(join(dir, "0002_broken.sql"), "CREATE TABLE half_applied (id int);\nSELEC oops;\n")
      const error = failureOf(await resetExit(broken, { migrationsDirectory: dir }))
      expect(error._tag).toBe("DatabaseResetError")
      expect(error.reason).toBe("migration-failed")
      expect(error.file).toBe("0002_broken.sql")
      expect(error.message).toMatch(/0002_broken\.sql/)
      expect(error.message).toMatch(/syntax error at or near "SELEC".*line 2/)
      expect(error.message).toMatch(/Nothing was half-applied/)
      expect((await databasesLike(broken)).map((d) => d.datname)).toEqual([broken])
      const tables = await withClient(broken, async (c) =>
        (await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows)
      expect(tables.map((r) => r.table_name)).not.toContain("half_applied")
      expect(tables.map((r) => r.table_name)).not.toContain("customers")
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it("refuses an unmarked database that holds data, which survives; confirming by name drops it", async () => {
    await withClient("postgres", (c) => c.query(`CREATE DATABASE ${unmarked}`))
    await withClient(unmarked, async (c) => {
      await c.query("CREATE TABLE precious (v text)")
      await c.query("INSERT INTO precious VALUES ('hand-made')")
    })
    const error = failureOf(await resetExit(unmarked))
    expect(error.reason).toBe("unmarked-database-not-empty")
    expect(error.message).toMatch(/table public\.precious/)
    expect(error.message).toMatch(`WORKFLOW_LIVE_CONFIRM_DROP=${unmarked}`)
    const survived = await withClient(unmarked, async (c) => (await c.query("SELECT v FROM precious")).rows)
    expect(survived).toEqual([{ v: "hand-made" }])

    const wrongConfirm = failureOf(await resetExit(unmarked, { confirmDrop: "yes" }))
    expect(wrongConfirm.reason).toBe("unmarked-database-not-empty")
    // a yes-like value is the mistake this guards against: the message says it confirms nothing
    expect(wrongConfirm.message).toMatch(/any other value, `yes` or `1` included, confirms nothing/)
    expect(failureOf(await resetExit(unmarked, { confirmDrop: "tenderbot_workflow_test" })).reason).toBe("unmarked-database-not-empty")

    const confirmed = await resetOk(unmarked, { confirmDrop: unmarked })
    expect(confirmed.steps.find((s) => s.name === "inspect")?.detail).toMatch(/confirmed by WORKFLOW_LIVE_CONFIRM_DROP/)
    const gone = await withClient(unmarked, async (c) =>
      (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'precious'")).rows[0].n)
    expect(gone).toBe(0)
  })

  it("adopts an empty unmarked database", async () => {
    await dropDatabases([unmarked])
    await withClient("postgres", (c) => c.query(`CREATE DATABASE ${unmarked}`))
    const result = await resetOk(unmarked)
    expect(result.steps.find((s) => s.name === "inspect")?.detail).toMatch(/unmarked but empty \(no object in it\), adopted/)
  })

  it("waits for the lock, then fails naming who holds it", async () => {
    const holder = new pg.Client(TestDatabase.connection("postgres", "wl-it-lock-holder"))
    await holder.connect()
    try {
      await holder.query("SELECT pg_advisory_lock($1, hashtext($2))", [DatabaseReset.lockNamespace, locked])
      const pid = (await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid
      const started = performance.now()
      const error = failureOf(await resetExit(locked, { lockTimeout: "400 millis" }))
      expect(performance.now() - started).toBeGreaterThanOrEqual(400)
      expect(error.reason).toBe("lock-timeout")
      expect(error.sessions.map((s) => s.pid)).toEqual([pid])
      expect(error.message).toContain(`pid ${pid}, application "wl-it-lock-holder"`)
      expect(error.message).toMatch(/since \d{4}-\d\d-\d\dT/)
      expect((await databasesLike(locked)).length).toBe(0)
    } finally {
      await holder.end()
    }
  })

  it("two resets started at once by two processes are serialized and both succeed", async () => {
    await resetOk(race)
    const worker = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "test/support/resetWorker.ts", race], { stdio: ["ignore", "pipe", "inherit"] })
        let out = ""
        child.stdout.on("data", (chunk) => (out += chunk))
        child.on("close", (code) => resolve({ code, out }))
      })
    const results = await Promise.all([worker(), worker()])
    for (const r of results) expect(r.code, r.out).toBe(0)
    const [a, b] = results.map((r) => JSON.parse(r.out) as { mode: string; lockedAt: number; lastStepAt: number })
    expect([a!.mode, b!.mode]).toEqual(["warm", "warm"])
    // serialized: the second took the lock only after the first had finished
    const [first, second] = a!.lockedAt <= b!.lockedAt ? [a!, b!] : [b!, a!]
    // (its last step ran under the lock; the process's own end comes after the release, so is no bound)
    expect(second.lockedAt).toBeGreaterThanOrEqual(first.lastStepAt)
    const tables = await withClient(race, async (c) =>
      (await c.query("SELECT count(*)::int AS n FROM effect_sql_migrations")).rows[0].n)
    expect(tables).toBe(5)
  })
})
