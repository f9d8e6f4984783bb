// What the reset must never do, on the real server: drop an unmarked database that holds anything
// (whatever the connecting role can or cannot read in it), or say a half-applied migration was rolled
// back. The sentinel databases are fingerprinted around every test.
import { SqlClient } from "@effect/sql"
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { mkdir, mkdtemp, readFile, rm, rmdir, symlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as Migrations from "../../src/Migrations.js"
import { dropDatabases, ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

// This file's own names; nothing else is ever dropped here.
const unmarked = "wl_it_safety_unmarked"
const migrated = "wl_it_safety_migrations"
const ended = "wl_it_safety_session"
const templated = "wl_it_safety_template"
const spoofing = "wl_it_safety_spoof"
const role = "wl_it_safety_owner"
const ours = [unmarked, migrated, ended, templated, spoofing]
const cleanup = async () => {
  await dropDatabases(ours, ours.map(Migrations.templatePrefix))
  await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${role}`))
}

const resetAs = async (database: string, options: DatabaseReset.Options = {}, user?: string, query = "") => {
  const dsn = `${TestDatabase.url(database, user === undefined ? {} : { user })}${query}`
  const target = await Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(dsn)), {}, { database }))
  return Effect.runPromiseExit(DatabaseReset.reset(target, options))
}

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected the reset to fail, it succeeded")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value as DatabaseReset.DatabaseResetError | Migrations.MigrationsError
}

/** A hand-made database (no marker) owned by the reset's role, filled by the superuser with `statements`. */
const handMade = async (statements: ReadonlyArray<string>) => {
  await dropDatabases([unmarked])
  await withClient("postgres", (c) => c.query(`CREATE DATABASE ${unmarked} OWNER ${role}`))
  await withClient(unmarked, async (c) => {
    for (const statement of statements) await c.query(statement)
  })
}

let before: Record<string, string>

beforeAll(async () => {
  await ensureSentinels()
  await cleanup()
  const password = TestDatabase.server.password === undefined ? "" : ` PASSWORD '${TestDatabase.server.password}'`
  await withClient("postgres", (c) => c.query(`CREATE ROLE ${role} LOGIN CREATEDB${password}`))
  before = await fingerprint()
})

afterEach(async () => {
  expect(await fingerprint()).toEqual(before)
})

afterAll(cleanup)

describe("an unmarked database is dropped only when it holds nothing, or when confirmed", () => {
  // each: what a person made by hand, what the refusal must name, and a query proving it survived
  const variants: ReadonlyArray<{ name: string; make: ReadonlyArray<string>; names: string; survived: string }> = [
    {
      name: "only a large object",
      make: ["SELECT lo_from_bytea(0, 'precious bytes')"],
      names: "large object",
      survived: "SELECT count(*)::int AS n FROM pg_largeobject_metadata"
    },
    {
      name: "only a materialized view",
      make: ["CREATE MATERIALIZED VIEW kept AS SELECT 'hand-made'::text AS v"],
      names: "materialized view public.kept",
      survived: "SELECT count(*)::int AS n FROM kept"
    },
    {
      name: "rows the role cannot see (row-level security)",
      make: [
        "CREATE TABLE secret_rows (v text)",
        "INSERT INTO secret_rows VALUES ('hidden from the reset role')",
        "ALTER TABLE secret_rows ENABLE ROW LEVEL SECURITY",
        `GRANT SELECT ON secret_rows TO ${role}`
      ],
      names: "table public.secret_rows",
      survived: "SELECT count(*)::int AS n FROM secret_rows"
    },
    {
      name: "an empty table",
      make: ["CREATE TABLE nothing_yet (id int)"],
      names: "table public.nothing_yet",
      survived: "SELECT count(*)::int + 1 AS n FROM nothing_yet"
    },
    {
      name: "only a function",
      make: ["CREATE FUNCTION kept() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
      names: "function public.kept()",
      survived: "SELECT kept() AS n"
    },
    {
      // initdb's own objects there sit below FirstNormalObjectId like everywhere else: no schema is exempt
      name: "a table in information_schema",
      make: ["CREATE TABLE information_schema.precious (id int)", "INSERT INTO information_schema.precious VALUES (42)"],
      names: "table information_schema.precious",
      survived: "SELECT count(*)::int AS n FROM information_schema.precious"
    },
    {
      name: "a sequence, a type and a schema",
      make: ["CREATE SCHEMA mine", "CREATE SEQUENCE mine.counter", "CREATE TYPE mood AS ENUM ('ok')"],
      names: "sequence mine.counter",
      survived: "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'mine'"
    }
  ]

  for (const variant of variants) {
    it(`refuses ${variant.name}, naming it; everything survives`, async () => {
      await handMade(variant.make)
      const error = failureOf(await resetAs(unmarked, {}, role))
      expect(error._tag).toBe("DatabaseResetError")
      expect(error.reason).toBe("unmarked-database-not-empty")
      expect(error.message).toContain(variant.names)
      expect(error.message).toContain(`export WORKFLOW_LIVE_CONFIRM_DROP=${unmarked}`)
      expect(error.message).not.toContain(TestDatabase.secret)
      const survived = await withClient(unmarked, async (c) => (await c.query(variant.survived)).rows[0].n)
      expect(survived).toBeGreaterThan(0)
      expect(await withClient("postgres", async (c) =>
        (await c.query("SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1", [unmarked]))
          .rows[0].comment)).toBeNull()
    })
  }

  it("confirming by name drops it; a database with nothing in it is adopted without confirmation", async () => {
    await handMade(["SELECT lo_from_bytea(0, 'goes')"])
    const confirmed = await resetAs(unmarked, { confirmDrop: unmarked }, role)
    expect(Exit.isSuccess(confirmed)).toBe(true)
    expect(await withClient(unmarked, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_largeobject_metadata")).rows[0].n))
      .toBe(0)

    await handMade([])
    const adopted = await resetAs(unmarked, {}, role)
    if (Exit.isFailure(adopted)) throw new Error(Cause.pretty(adopted.cause))
    expect(adopted.value.steps.find((s) => s.name === "inspect")?.detail).toContain("unmarked but empty (no object in it), adopted")
  })
})

describe("a database that carries the template's name but not its marker", () => {
  it("is refused, named, and survives; confirming it by name replaces it with a marked template", async () => {
    const first = await resetAs(templated)
    if (Exit.isFailure(first)) throw new Error(Cause.pretty(first.cause))
    const template = await withClient("postgres", async (c) =>
      (await c.query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [Migrations.templatePrefix(templated)])).rows[0]
        .datname as string)
    // the harness's databases out (the workflow database, its template and spare), a person's database
    // with the template's name in: the next reset builds a template
    await dropDatabases([templated], [Migrations.templatePrefix(templated)])
    await withClient("postgres", (c) => c.query(`CREATE DATABASE "${template}"`))
    await withClient(template, (c) => c.query("CREATE TABLE precious AS SELECT 42 AS answer"))
    const oidOf = () => withClient("postgres", async (c) =>
      (await c.query("SELECT oid::text AS oid FROM pg_database WHERE datname = $1", [template])).rows[0]?.oid as string | undefined)
    const impostor = await oidOf()

    const error = failureOf(await resetAs(templated))
    expect(error.reason).toBe("template-not-ours")
    expect(error.message).toContain(`\`${template}\` exists but has no harness template marker`)
    expect(error.message).toContain(`export WORKFLOW_LIVE_CONFIRM_DROP=${template}`)
    expect(await withClient(template, async (c) => (await c.query("SELECT answer FROM precious")).rows[0].answer)).toBe(42)
    expect(await oidOf()).toBe(impostor)

    const confirmed = await resetAs(templated, { confirmDrop: template })
    if (Exit.isFailure(confirmed)) throw new Error(Cause.pretty(confirmed.cause))
    expect(confirmed.value.steps.find((s) => s.name === "inspect")?.detail).toContain(`unmarked ${template} confirmed by WORKFLOW_LIVE_CONFIRM_DROP`)
    const comment = await withClient("postgres", async (c) =>
      (await c.query("SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1", [template]))
        .rows[0].comment as string)
    expect(comment.startsWith("workflow-live: template")).toBe(true)
    // a new database under that name (the hand-made one was dropped, as confirmed)
    expect(await oidOf()).not.toBe(impostor)
  })
})

describe("the identity check cannot be answered by a database's own functions", () => {
  it("a public.current_database() first on the search_path does not hide where the connection is", async () => {
    // a connection that reaches `spoofing` (as a pooler mapping names could make it) where a function
    // answers with the expected name, found first through the DSN's own search_path
    await dropDatabases([spoofing])
    await withClient("postgres", (c) => c.query(`CREATE DATABASE ${spoofing}`))
    await withClient(spoofing, (c) =>
      c.query("CREATE FUNCTION public.current_database() RETURNS name LANGUAGE sql AS $$SELECT 'wl_it_safety_expected'::name$$"))
    const dsn = `${TestDatabase.url("wl_it_safety_expected")}?options=${encodeURIComponent("-c search_path=public,pg_catalog")}`
    const target = await Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(dsn)), {}, { database: "wl_it_safety_expected" }))
    const exit = await Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
      const client = yield* LaneDatabase.open(target, { database: spoofing, maxConnections: 1 })
      // the function is really there and found first: the spoof works on an unqualified call
      const [row] = yield* client<{ db: string }>`SELECT current_database() AS db`
      expect(row?.db).toBe("wl_it_safety_expected")
      yield* LaneDatabase.checkIdentity(target).pipe(Effect.provideService(SqlClient.SqlClient, client))
    })))
    const error = failureOf(exit) as unknown as LaneDatabase.LaneDatabaseError
    expect(error.reason).toBe("identity-mismatch")
    expect(error.actual).toBe(spoofing)
  })
})

describe("the reset's catalog reads cannot be answered by a database's own functions", () => {
  it("a public.shobj_description() in the maintenance database, first on the DSN's search_path, does not make a database the harness's", async () => {
    await handMade(["CREATE TABLE precious AS SELECT 42 AS answer"])
    const forged = "CREATE FUNCTION public.shobj_description(oid, name) RETURNS text LANGUAGE sql AS " +
      "$$SELECT 'workflow-live: managed by @tenderbot/workflow-live; every reset drops and recreates it'::text$$"
    await withClient("postgres", (c) => c.query(forged))
    try {
      const exit = await resetAs(unmarked, {}, role, `?options=${encodeURIComponent("-c search_path=public,pg_catalog")}`)
      const error = failureOf(exit)
      expect(error.reason).toBe("unmarked-database-not-empty")
      expect(await withClient(unmarked, async (c) => (await c.query("SELECT answer FROM precious")).rows[0].answer)).toBe(42)
    } finally {
      await withClient("postgres", (c) => c.query("DROP FUNCTION IF EXISTS public.shobj_description(oid, name)"))
    }
  })
})

describe("a reset whose own session is ended midway", () => {
  it("stops with session-terminated, naming the step, and the next reset recovers", async () => {
    const killOwnSession = (step: DatabaseReset.Step) =>
      step.name !== "drop" ? Effect.void : Effect.promise(() =>
        withClient("postgres", (c) =>
          c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [DatabaseReset.applicationName])))
    const error = failureOf(await resetAs(ended, { onStep: killOwnSession }))
    expect(error.reason).toBe("session-terminated")
    expect(error.message).toMatch(/failed at step "(create|clone)"/)
    expect(error.message).toContain("the server ended the reset's own session")
    const recovered = await resetAs(ended)
    expect(Exit.isSuccess(recovered)).toBe(true)
  })
})

describe("migrations tell the truth", () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "wl-it-safety-migrations-"))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  const tables = (database: string) =>
    withClient(database, async (c) =>
      (await c.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"))
        .rows.map((r) => r.t))

  it("a migration that commits part of its work is reported as half-applied, with what it left; no template; the next reset starts clean", async () => {
    await writeFile(join(dir, "0001_customers.sql"), await readFile(join(Migrations.defaultDirectory, "0001_customers.sql")))
    await writeFile(join(dir, "0002_half.sql"), "CREATE TABLE left_behind (id int);\nCOMMIT;\nSELECT * FROM no_such_table;\n")
    const error = failureOf(await resetAs(migrated, { migrationsDirectory: dir }))
    expect(error.reason, error.message).toBe("migration-half-applied")
    expect(error.message).toContain("0002_half.sql")
    expect(error.message).toContain("table public.left_behind")
    expect(error.message).toContain("table public.customers")
    expect(error.message).toMatch(/effect_sql_migrations rows claiming 0001_customers\.sql, 0002_half\.sql applied/)
    expect(error.message).not.toMatch(/Nothing was half-applied/)
    expect(await tables(migrated)).toContain("left_behind")
    expect(await withClient("postgres", async (c) =>
      (await c.query("SELECT count(*)::int AS n FROM pg_database WHERE starts_with(datname, $1)", [Migrations.templatePrefix(migrated)]))
        .rows[0].n)).toBe(0)

    // the same broken set again: the half-migrated database is dropped and rebuilt, not trusted
    const again = failureOf(await resetAs(migrated, { migrationsDirectory: dir }))
    expect(again.reason).toBe("migration-half-applied")

    // fixed: a clean cold reset, nothing of the broken attempt left
    await writeFile(join(dir, "0002_half.sql"), "CREATE TABLE whole (id int);\n")
    const fixed = await resetAs(migrated, { migrationsDirectory: dir })
    if (Exit.isFailure(fixed)) throw new Error(Cause.pretty(fixed.cause))
    expect(fixed.value.mode).toBe("cold")
    expect(fixed.value.applied).toEqual(["0001_customers.sql", "0002_half.sql"])
    expect(await tables(migrated)).toEqual(["customers", "effect_sql_migrations", "whole"])
  })

  it("a migration that fails cleanly says nothing was half-applied, and the database holds nothing", async () => {
    await writeFile(join(dir, "0002_half.sql"), "CREATE TABLE never_kept (id int);\nSELECT * FROM no_such_table;\n")
    const error = failureOf(await resetAs(migrated, { migrationsDirectory: dir }))
    expect(error.reason).toBe("migration-failed")
    expect(error.message).toMatch(/Nothing was half-applied/)
    expect(await tables(migrated)).toEqual(["effect_sql_migrations"])
    expect(await withClient(migrated, async (c) => (await c.query("SELECT count(*)::int AS n FROM effect_sql_migrations")).rows[0].n))
      .toBe(0)
  })

  it("a migration linked in from elsewhere is read; a .sql entry that is no file (a directory, a link to nothing) is refused, not skipped", async () => {
    const linked = await mkdtemp(join(tmpdir(), "wl-it-linked-"))
    const own = await mkdtemp(join(tmpdir(), "wl-it-own-migrations-"))
    try {
      await writeFile(join(linked, "shared.sql"), "CREATE TABLE shared_one (id int);\n")
      await writeFile(join(own, "0001_customers.sql"), "CREATE TABLE customers (id int);\n")
      await symlink(join(linked, "shared.sql"), join(own, "0002_shared.sql"))
      const set = await Effect.runPromise(Migrations.load(own))
      expect(set.migrations.map((m) => m.file)).toContain("0002_shared.sql")
      expect(set.migrations.find((m) => m.file === "0002_shared.sql")!.sql).toContain("shared_one")
      await mkdir(join(own, "0003_folder.sql"))
      const folder = failureOf(await resetAs(migrated, { migrationsDirectory: own }))
      expect(folder.reason).toBe("unreadable")
      expect(folder.message).toContain("0003_folder.sql is a directory, not a migration file")
      await rmdir(join(own, "0003_folder.sql"))
      await symlink(join(linked, "gone.sql"), join(own, "0003_gone.sql"))
      const dangling = failureOf(await resetAs(migrated, { migrationsDirectory: own }))
      expect(dangling.reason).toBe("unreadable")
      expect(dangling.message).toContain("0003_gone.sql is a link to no file")
    } finally {
      await rm(linked, { recursive: true, force: true })
      await rm(own, { recursive: true, force: true })
    }
  })

  it("a migrations path that is a file says so", async () => {
    const file = join(dir, "0001_customers.sql")
    const error = failureOf(await resetAs(migrated, { migrationsDirectory: file }))
    expect(error._tag).toBe("MigrationsError")
    expect(error.reason).toBe("not-a-directory")
    expect(error.message).toContain(`${file} is a file, not a directory`)
    expect(error.message).not.toContain("does not exist")
  })
})
