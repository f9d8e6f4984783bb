// `workflow-live prune` as a person runs it (the real CLI process) on the test server: templates of three
// migration hashes (the current one, older migrations, another harness version) and a retired database
// go, or would go with --dry-run, with their size; lookalikes (a `<db>__tpl_*` name without the marker,
// the marker under another name) and the sentinel databases survive. A held lock and a refused DSN are
// typed errors with a fix, and nothing is dropped.
import pg from "pg"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as HarnessDatabases from "../../src/internal/harnessDatabases.js"
import * as Migrations from "../../src/Migrations.js"
import * as Prune from "../../src/Prune.js"
import * as Cli from "../support/cli.js"
import { laneDsn, workflowDatabase } from "../support/lane.js"
import { ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

const db = workflowDatabase
const set = await Effect.runPromise(Migrations.load())
const current = Migrations.templateName(db, set.hash)

// hashes no real migration set has: only this file makes them
const otherMigrations = `${db}__tpl_0000000000a1`
const otherHarness = `${db}__tpl_0000000000a2`
const retired = `${db}__old_1000000000001`
const stale = [otherMigrations, otherHarness, retired]
const unmarkedLookalike = `${db}__tpl_0000000000a3`
const markedElsewhere = `${db}_tpl_0000000000a4`
const refusedTemplate = `tenderbot__tpl_0000000000a5`
// a workflow database a person kept under a name of their own: the marker came with the rename
const renamedByHand = `${db}__keep_for_bug_123`
const survivors = [unmarkedLookalike, markedElsewhere, refusedTemplate, renamedByHand]
const ours = [...stale, ...survivors]

const comments: Record<string, string> = {
  [current]: HarnessDatabases.templateMarker(set.hash, set.harnessVersion),
  [otherMigrations]: HarnessDatabases.templateMarker("0000000000a1", set.harnessVersion),
  [otherHarness]: HarnessDatabases.templateMarker("0000000000a2", "0.0.1"),
  [retired]: `${HarnessDatabases.retiredMarkerPrefix} by a reset of ${db}`,
  [markedElsewhere]: HarnessDatabases.templateMarker("0000000000a4", set.harnessVersion),
  [refusedTemplate]: HarnessDatabases.templateMarker("0000000000a5", set.harnessVersion),
  [renamedByHand]: HarnessDatabases.managedMarker
}

const existing = (): Promise<ReadonlyArray<string>> =>
  withClient("postgres", async (c) =>
    (await c.query<{ datname: string }>("SELECT datname FROM pg_database ORDER BY 1")).rows.map((r) => r.datname))

const sizes = (names: ReadonlyArray<string>): Promise<number> =>
  withClient("postgres", async (c) =>
    Number((await c.query<{ n: string }>("SELECT sum(pg_database_size(datname))::text AS n FROM pg_database WHERE datname = ANY($1)", [names])).rows[0]!.n))

const create = (names: ReadonlyArray<string>) =>
  withClient("postgres", async (c) => {
    for (const name of names) {
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`)
      await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
      const comment = comments[name]
      if (comment !== undefined) await c.query(`COMMENT ON DATABASE ${pg.escapeIdentifier(name)} IS ${pg.escapeLiteral(comment)}`)
    }
  })

const dropOurs = () =>
  withClient("postgres", async (c) => {
    for (const name of ours) await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)}`)
  })

// a lane may be running in another file: prune waits for it like a reset would
const env = { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_LOCK_TIMEOUT: "100 seconds" }
let before: Record<string, string>

beforeAll(async () => {
  await ensureSentinels()
  before = await fingerprint()
  // the current template, as the reset leaves it (another file's reset may already have built it)
  if (!(await existing()).includes(current)) await create([current])
  await create(ours)
}, 60_000)

afterAll(async () => {
  await dropOurs()
  expect(await fingerprint()).toEqual(before)
}, 60_000)

// every stale harness database on the server (a reused test server may hold some from earlier runs)
const staleOnServer = (): Promise<ReadonlyArray<string>> =>
  withClient("postgres", async (c) =>
    (await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> ALL($2)
        AND starts_with(shobj_description(oid, 'pg_database'), 'workflow-live:') AND datname <> $3 ORDER BY 1`,
      [`${db}__`, [current, HarnessDatabases.spareName(db, set.hash)], renamedByHand]
    )).rows.map((r) => r.datname))

const lineOf = (output: string, name: string): string => output.split("\n").find((l) => l.includes(` ${name} `)) ?? ""

describe("workflow-live prune", () => {
  it("--dry-run lists what would go with its size, and drops nothing", async () => {
    const all = await staleOnServer()
    expect(all).toEqual(expect.arrayContaining(stale))
    const freed = Prune.formatBytes(await sizes(all))
    const outcome = await Cli.workflowLive(["prune", "--dry-run"], { env })
    expect(outcome.code, outcome.output).toBe(0)
    expect(outcome.output).toContain("(dry run: nothing is dropped)")
    expect(lineOf(outcome.output, otherMigrations)).toMatch(/would drop .* MB +template of other migrations \(0000000000a1; current /)
    expect(lineOf(outcome.output, otherHarness)).toMatch(/would drop .* template of harness 0\.0\.1 \(this is /)
    expect(lineOf(outcome.output, retired)).toMatch(/would drop .* retired by a reset/)
    expect(lineOf(outcome.output, current)).toMatch(/keep .* the template of the current migrations/)
    expect(lineOf(outcome.output, unmarkedLookalike)).toMatch(/ignore .* not marked as the harness's/)
    expect(lineOf(outcome.output, renamedByHand)).toMatch(/ignore .* not a name the harness makes/)
    // not named like the harness's databases of this one: not even listed
    expect(outcome.output).not.toContain(markedElsewhere)
    expect(outcome.output).not.toContain(refusedTemplate)
    expect(outcome.output).toContain(`would free ${freed} (${all.length} database(s)); run \`workflow-live prune\` to remove them`)
    expect(await existing()).toEqual(expect.arrayContaining([...ours, current]))
  })

  it("waits for a lane holding the lock, then fails naming it; nothing is dropped", async () => {
    const holder = new pg.Client(TestDatabase.connection("postgres", "workflow-live lane running tests (pid 4242)"))
    await holder.connect()
    try {
      await holder.query("SELECT pg_advisory_lock_shared($1, hashtext($2))", [0x574c5253, db])
      const outcome = await Cli.workflowLive(["prune"], { env: { ...env, WORKFLOW_LIVE_LOCK_TIMEOUT: "1 second" } })
      expect(outcome.code, outcome.output).toBe(1)
      expect(outcome.output).toContain("failed (lock-timeout)")
      expect(outcome.output).toContain(`application "workflow-live lane running tests (pid 4242)"`)
      expect(outcome.output).toMatch(/Fix: +wait for the run listed above/)
      expect(outcome.output).not.toMatch(Cli.stackLine)
    } finally {
      await holder.end()
    }
    expect(await existing()).toEqual(expect.arrayContaining(ours))
  })

  it("--dry-run does not wait for a lane holding the lock: it lists at once and names the holder; nothing is dropped", async () => {
    const holder = new pg.Client(TestDatabase.connection("postgres", "workflow-live lane running tests (pid 4343)"))
    await holder.connect()
    try {
      await holder.query("SELECT pg_advisory_lock_shared($1, hashtext($2))", [0x574c5253, db])
      const started = Date.now()
      const outcome = await Cli.workflowLive(["prune", "--dry-run"], { env: { ...env, WORKFLOW_LIVE_LOCK_TIMEOUT: "60 seconds" } })
      expect(outcome.code, outcome.output).toBe(0)
      expect(Date.now() - started).toBeLessThan(30_000)
      expect(outcome.output).toContain("would drop")
      expect(outcome.output).toContain("so this list may change")
      expect(outcome.output).toContain("workflow-live lane running tests (pid 4343)")
    } finally {
      await holder.end()
    }
    expect(await existing()).toEqual(expect.arrayContaining(ours))
  })

  it("a DSN the guard refuses: a typed refusal, nothing listed or dropped", async () => {
    const outcome = await Cli.workflowLive(["prune"], { env: { ...env, TENDERBOT_WORKFLOW_DB_DSN: TestDatabase.url("tenderbot") } })
    expect(outcome.code, outcome.output).toBe(1)
    expect(outcome.output).toContain("refused (development-database)")
    expect(outcome.output).toContain("Fix:")
    expect(outcome.output).not.toContain(refusedTemplate)
    expect(await existing()).toEqual(expect.arrayContaining(ours))
  })

  it("removes the stale ones; the current template, the lookalikes and the workflow database stay", async () => {
    const hadWorkflowDatabase = (await existing()).includes(db)
    const all = await staleOnServer()
    const outcome = await Cli.workflowLive(["prune"], { env })
    expect(outcome.code, outcome.output).toBe(0)
    for (const name of stale) expect(lineOf(outcome.output, name)).toMatch(/^ {2}dropped /)
    expect(outcome.output).toMatch(new RegExp(`freed .* \\(${all.length} database\\(s\\)\\) in \\d+ ms`))
    const after = await existing()
    for (const name of stale) expect(after).not.toContain(name)
    expect(after).toEqual(expect.arrayContaining([...survivors, current]))
    expect(after.includes(db)).toBe(hadWorkflowDatabase)
    const again = await Cli.workflowLive(["prune"], { env })
    expect(again.code, again.output).toBe(0)
    expect(again.output).toContain("nothing to prune")
  })

  it("is listed in the help", async () => {
    const outcome = await Cli.workflowLive(["--help"], { env })
    expect(outcome.code, outcome.output).toBe(0)
    expect(outcome.output).toContain("prune [--dry-run]")
  })
})
