/**
 * The reset's cost against its floor, measured in controlled storage states. The floor is what no
 * clone-based reset can beat: `DROP DATABASE … WITH (FORCE)` + `CREATE DATABASE … TEMPLATE` issued directly
 * on an already-open connection.
 *
 * Why states: on PostgreSQL 15 `DROP DATABASE` forces a checkpoint, so a timed run pays for the dirty pages
 * the run before it left. A fixed order moves that cost between variants. Each variant is therefore timed
 *   - clean:  after an untimed `CHECKPOINT` (nothing dirty), and
 *   - steady: right after an untimed run of the same variant (the dirt it leaves itself),
 * with the order of variants rotated every round. Reported per state: each variant's median, its ratio to
 * the floor of the same state, and warm minus floor in ms. Whole processes are timed too: the CLI's
 * `reset` beside a process that only connects, drops and clones, `--version` beside `node -e 0`, and
 * dbmate's Go binary (`drop`, `create`, `up` on the same schema) when it is installed.
 *
 * A warm reset swaps in the spare (`<db>__spare_<hash>`): its critical path is what a caller waits for
 * (`DatabaseReset.resetScoped` returning); the deferred work it leaves (drop the database renamed away, clone
 * the next spare) is awaited untimed after each run, so the next run starts from a settled state. Likewise the
 * CLI's detached deferred work is awaited, untimed, after each process run. "warm reset (clone)" is the path
 * without a spare (`spare: false`), for comparison with the floor.
 *
 * Runnable alone: `node --import tsx bench/reset.bench.ts [rounds] [--only=in-process|processes]` (rounds
 * default and minimum 11). Server: the tests' server (`WORKFLOW_LIVE_TEST_SERVER`, default
 * postgres://postgres@127.0.0.1:5432).
 */
import { Effect, Exit, Option, Redacted, Scope } from "effect"
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import * as DatabaseReset from "../src/DatabaseReset.js"
import * as DsnGuard from "../src/DsnGuard.js"
import * as Migrations from "../src/Migrations.js"
import { emit, median } from "./report.js"

const positional = process.argv.slice(2).filter((a) => !a.startsWith("--"))
const only = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length)
const rounds = Math.max(11, Number(positional[0] ?? 11))
const serverUrl = new URL(process.env.WORKFLOW_LIVE_TEST_SERVER ?? "postgres://postgres@127.0.0.1:5432")
const server = {
  host: serverUrl.hostname,
  port: Number(serverUrl.port || 5432),
  user: decodeURIComponent(serverUrl.username || "postgres")
}
const dsnFor = (database: string) => `postgres://${server.user}@${server.host}:${server.port}/${database}`

const admin = new pg.Client({ ...server, database: "postgres", application_name: "workflow-live bench" })
await admin.connect()
const q = (text: string) => admin.query(text)
const ident = pg.escapeIdentifier
const checkpoint = () => q("CHECKPOINT")

type State = "clean" | "steady"
const states: ReadonlyArray<State> = ["clean", "steady"]

interface Variant {
  readonly name: string
  /** untimed preparation that must precede every run of this variant (e.g. dropping the template for cold) */
  readonly prepare?: () => Promise<void>
  /** the timed part; returns the critical-path milliseconds */
  readonly run: () => Promise<number>
  /** untimed work the variant left running in the background (e.g. deferred clean-up), awaited after timing */
  readonly settle?: () => Promise<void>
}

/** Times each variant in each state, `rounds` times, rotating the order every round. */
const measure = async (variants: ReadonlyArray<Variant>): Promise<Map<string, Map<State, number>>> => {
  const samples = new Map<string, Map<State, Array<number>>>()
  for (const v of variants) samples.set(v.name, new Map(states.map((s) => [s, []])))
  const trace = process.env.WL_BENCH_TRACE === "1" ? (what: string) => console.error(`  [${new Date().toISOString()}] ${what}`) : () => {}
  const once = async (v: Variant): Promise<number> => {
    trace(v.name)
    await v.prepare?.()
    const ms = await v.run()
    await v.settle?.()
    return ms
  }
  for (let round = 0; round < rounds; round++) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]!)
    for (const state of states) {
      for (const v of order) {
        if (state === "clean") {
          trace(`${v.name} (clean)`)
          await v.prepare?.()
          await checkpoint()
          const ms = await v.run()
          await v.settle?.()
          samples.get(v.name)!.get(state)!.push(ms)
        } else {
          await once(v) // untimed: the same variant's own dirt
          samples.get(v.name)!.get(state)!.push(await once(v))
        }
      }
    }
  }
  return new Map([...samples].map(([name, byState]) => [name, new Map([...byState].map(([s, xs]) => [s, median(xs)]))]))
}

const printTable = (title: string, medians: Map<string, Map<State, number>>, floorName: string) => {
  console.log(`\n${title} (medians of ${rounds} rounds, order rotated)`)
  console.log(`  ${"variant".padEnd(26)} ${states.map((s) => `${s.padStart(9)} ${"/floor".padStart(7)}`).join("  ")}`)
  for (const [name, byState] of medians) {
    const cells = states.map((s) => {
      const ms = byState.get(s)!
      const ratio = ms / medians.get(floorName)!.get(s)!
      return `${ms.toFixed(1).padStart(6)} ms ${ratio.toFixed(2).padStart(6)}x`
    })
    console.log(`  ${name.padEnd(26)} ${cells.join("  ")}`)
  }
}

// --- in process: the reset's critical path against the floor ----------------------------------------

const database = "wl_bench_reset"
const floorDatabase = "wl_bench_floor"

const dropOwn = async () => {
  const rows = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname = ANY($1) OR starts_with(datname, $2) OR starts_with(datname, $3)",
    [[database, floorDatabase], `${database}__`, `${floorDatabase}__`]
  )
  for (const { datname } of rows.rows) await q(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`)
}

const target = await Effect.runPromise(
  DsnGuard.verify(Option.some(Redacted.make(dsnFor(database))), {}, { database })
)

const onStep = process.env.WL_BENCH_TRACE === "1"
  ? (step: DatabaseReset.Step) => Effect.sync(() => console.error(`    ${DatabaseReset.renderStep(step)}`))
  : undefined

/** One reset's critical path: until `resetScoped` returns. Its deferred work goes on until `settle`. */
let open: Scope.CloseableScope | undefined
const resetOnce = async (options: DatabaseReset.Options = {}) => {
  const scope = Effect.runSync(Scope.make())
  const started = performance.now()
  const result = await Effect.runPromise(Scope.extend(DatabaseReset.resetScoped(target, { onStep, ...options }), scope))
  const millis = performance.now() - started
  open = scope
  return { millis, result }
}
const settle = async () => {
  if (open !== undefined) await Effect.runPromise(Scope.close(open, Exit.void))
  open = undefined
}
/** The reset prepared untimed (session open and warmed, migrations read), as a lane does while preflight runs. */
let prepared: DatabaseReset.Prepared | undefined
const prepareReset = async () => {
  await ensureSpare()
  const scope = Effect.runSync(Scope.make())
  prepared = await Effect.runPromise(Scope.extend(DatabaseReset.prepare(target, { onStep }), scope))
  open = scope
}
const resetPrepared = async () => {
  const scope = open!
  const started = performance.now()
  const result = await Effect.runPromise(Scope.extend(prepared!.reset, scope))
  return { millis: performance.now() - started, result }
}
const spareOf = (db: string) => `${db}__spare_${template.slice(template.lastIndexOf("_") + 1)}`
const ensureSpare = () => Effect.runPromise(Effect.asVoid(DatabaseReset.finishDeferred(target, {})))

const inProcess = new Map<string, Map<State, number>>()
let template = ""
if (only !== "processes") try {
  await dropOwn()
  const first = await resetOnce() // builds the template (and warms module caches)
  await settle()
  if (first.result.mode !== "cold") throw new Error(`expected a cold first reset of ${database}`)
  template = first.result.template
  const variants: ReadonlyArray<Variant> = [
    {
      name: "floor (drop + clone)",
      run: async () => {
        const started = performance.now()
        await q(`DROP DATABASE IF EXISTS ${ident(floorDatabase)} WITH (FORCE)`)
        await q(`CREATE DATABASE ${ident(floorDatabase)} TEMPLATE ${ident(template)}`)
        return performance.now() - started
      }
    },
    {
      name: "warm reset (swap)",
      prepare: ensureSpare,
      run: async () => {
        const w = await resetOnce()
        if (w.result.spare === undefined || w.result.applied.length !== 0) throw new Error("expected a swap applying 0")
        return w.millis
      },
      settle
    },
    {
      name: "warm reset (swap, prepared)",
      prepare: prepareReset,
      run: async () => {
        const w = await resetPrepared()
        if (w.result.spare === undefined || w.result.applied.length !== 0) throw new Error("expected a swap applying 0")
        return w.millis
      },
      settle
    },
    {
      name: "warm reset (clone)",
      run: async () => {
        const w = await resetOnce({ spare: false })
        if (w.result.mode !== "warm" || w.result.spare !== undefined) throw new Error("expected a warm clone")
        return w.millis
      },
      settle
    },
    {
      name: "cold reset",
      prepare: async () => {
        await q(`DROP DATABASE IF EXISTS ${ident(template)} WITH (FORCE)`)
        await q(`DROP DATABASE IF EXISTS ${ident(spareOf(database))} WITH (FORCE)`)
      },
      run: async () => {
        const k = await resetOnce()
        if (k.result.mode !== "cold") throw new Error("expected a cold reset")
        return k.millis
      },
      settle
    }
  ]
  for (const [k, v] of await measure(variants)) inProcess.set(k, v)
} finally {
  await settle()
  await dropOwn()
}
if (only !== "processes") {
  printTable("in process, 5 migrations (critical path)", inProcess, "floor (drop + clone)")
  for (const s of states) {
    const floor = inProcess.get("floor (drop + clone)")!.get(s)!
    for (const variant of ["warm reset (swap, prepared)", "warm reset (swap)", "warm reset (clone)"]) {
      const warm = inProcess.get(variant)!.get(s)!
      console.log(`  ${variant} - floor (${s}): ${(warm - floor).toFixed(1)} ms`)
    }
  }
}

// --- whole processes ---------------------------------------------------------------------------------

const node = process.execPath
const timedProcess = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env, command = node): number => {
  const started = performance.now()
  const r = spawnSync(command, args, { env, encoding: "utf8" })
  const ms = performance.now() - started
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${r.status}:\n${r.stdout}${r.stderr}`)
  return ms
}

const processFloorScript = `
import pg from "pg"
const c = new pg.Client({ host: ${JSON.stringify(server.host)}, port: ${server.port}, user: ${JSON.stringify(server.user)}, database: "postgres" })
await c.connect()
await c.query('DROP DATABASE IF EXISTS "${floorDatabase}" WITH (FORCE)')
await c.query('CREATE DATABASE "${floorDatabase}" TEMPLATE "' + process.env.WL_BENCH_TEMPLATE + '"')
await c.end()
`

// dbmate wants `-- migrate:up` blocks; the same SQL, the same schema
// installed as `npm i --no-save dbmate` (the binary comes inside @dbmate/<platform>), or named by WL_BENCH_DBMATE
const dbmateBinary = [
  process.env.WL_BENCH_DBMATE ?? "",
  "node_modules/@dbmate/linux-x64/bin/dbmate",
  "node_modules/@dbmate/linux-arm64/bin/dbmate",
  "node_modules/@dbmate/darwin-arm64/bin/dbmate",
  "node_modules/@dbmate/darwin-x64/bin/dbmate"
].find((p) => p !== "" && existsSync(p))
const dbmateDir = await mkdtemp(join(tmpdir(), "wl-bench-dbmate-"))
for (const file of (await readdir(Migrations.defaultDirectory)).filter((f) => f.endsWith(".sql"))) {
  const sql = await readFile(join(Migrations.defaultDirectory, file), "utf8")
  await writeFile(join(dbmateDir, file), `-- migrate:up\n${sql}\n-- migrate:down\n`)
}
const dbmateDatabase = "wl_bench_dbmate"
const dbmateEnv = {
  ...process.env,
  DATABASE_URL: `${dsnFor(dbmateDatabase)}?sslmode=disable`,
  DBMATE_MIGRATIONS_DIR: dbmateDir,
  DBMATE_NO_DUMP_SCHEMA: "true"
}

// the CLI only ever resets the workflow database: the process variants use it
const workflowDatabase = "tenderbot_workflow_test"
const laneEnv = { ...process.env, TENDERBOT_WORKFLOW_DB_DSN: dsnFor(workflowDatabase), NO_COLOR: "1" }
const processes = new Map<string, Map<State, number>>()

/** Waits (untimed) until the CLI's detached deferred work is done: a spare, nothing retired, nobody at work. */
const cliSettled = async () => {
  for (let waited = 0; waited < 60_000; waited += 20) {
    const { rows } = await admin.query<{ spare: boolean; busy: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_database WHERE starts_with(datname, $1)) AND
          NOT EXISTS (SELECT 1 FROM pg_database WHERE starts_with(datname, $2)) AS spare,
        EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name LIKE '%deferred work') AS busy`,
      [`${workflowDatabase}__spare_`, `${workflowDatabase}__old_`]
    )
    if (rows[0]?.spare === true && rows[0].busy === false) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error("the CLI's deferred work did not finish within 60 s")
}

if (only !== "in-process") try {
  await dropOwn()
  timedProcess(["bin/workflow-live.js", "reset"], laneEnv) // builds the template and the CLI bundle
  await cliSettled()
  const templates = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
    [Migrations.templatePrefix(workflowDatabase)]
  )
  const processTemplate = templates.rows[0]?.datname
  if (processTemplate === undefined) throw new Error("the CLI's reset left no template")
  const floorEnv = { ...process.env, WL_BENCH_TEMPLATE: processTemplate }
  const variants: Array<Variant> = [
    { name: "process floor (drop + clone)", run: async () => timedProcess(["--input-type=module", "-e", processFloorScript], floorEnv) },
    { name: "workflow-live reset (warm)", run: async () => timedProcess(["bin/workflow-live.js", "reset"], laneEnv), settle: cliSettled },
    { name: "node -e 0", run: async () => timedProcess(["-e", "0"]) },
    { name: "workflow-live --version", run: async () => timedProcess(["bin/workflow-live.js", "--version"]) }
  ]
  if (dbmateBinary !== undefined) {
    variants.push({
      name: "dbmate drop, create, up",
      run: async () =>
        timedProcess(["drop"], dbmateEnv, dbmateBinary) + timedProcess(["create"], dbmateEnv, dbmateBinary) +
        timedProcess(["up"], dbmateEnv, dbmateBinary)
    })
  }
  for (const [k, v] of await measure(variants)) processes.set(k, v)
} finally {
  await dropOwn()
  await q(`DROP DATABASE IF EXISTS ${ident(dbmateDatabase)} WITH (FORCE)`)
  await rm(dbmateDir, { recursive: true, force: true })
  await admin.end()
}
if (only === "in-process") {
  // the processes' block (skipped) is what otherwise closes these: an open client keeps Node from exiting
  await rm(dbmateDir, { recursive: true, force: true })
  await admin.end()
}
if (only !== "in-process") {
  printTable("whole processes", processes, "process floor (drop + clone)")
  if (dbmateBinary === undefined) console.log("  dbmate: not installed (npm i --no-save dbmate, or WL_BENCH_DBMATE=<binary>), skipped")
}

const m = (name: string, s: State) => inProcess.get(name)?.get(s) ?? processes.get(name)!.get(s)!
if (only !== "processes") {
  for (const s of states) {
    const floor = m("floor (drop + clone)", s)
    // the target is the critical path: what a caller waits for once the reset is prepared (a lane prepares it
    // while preflight runs, as the floor has its connection open before it is timed)
    emit({ bench: "reset", metric: `warm reset (swap, prepared) / floor, in process (${s})`, value: m("warm reset (swap, prepared)", s) / floor, unit: "x", max: 0.1 })
    emit({ bench: "reset", metric: `warm reset (swap, prepared) - floor, in process (${s})`, value: m("warm reset (swap, prepared)", s) - floor, unit: "ms" })
    emit({ bench: "reset", metric: `warm reset (swap) / floor, in process (${s})`, value: m("warm reset (swap)", s) / floor, unit: "x" })
    emit({ bench: "reset", metric: `warm reset (swap) - floor, in process (${s})`, value: m("warm reset (swap)", s) - floor, unit: "ms" })
    emit({ bench: "reset", metric: `warm reset (clone) / floor, in process (${s})`, value: m("warm reset (clone)", s) / floor, unit: "x" })
    emit({ bench: "reset", metric: `warm reset (clone) - floor, in process (${s})`, value: m("warm reset (clone)", s) - floor, unit: "ms" })
    emit({ bench: "reset", metric: `cold reset / floor, in process (${s})`, value: m("cold reset", s) / floor, unit: "x" })
  }
  emit({ bench: "reset", metric: "floor, in process (clean)", value: m("floor (drop + clone)", "clean"), unit: "ms" })
  emit({ bench: "reset", metric: "warm reset (swap), in process (clean)", value: m("warm reset (swap)", "clean"), unit: "ms" })
  emit({ bench: "reset", metric: "warm reset (swap, prepared), in process (clean)", value: m("warm reset (swap, prepared)", "clean"), unit: "ms" })
}
if (only !== "in-process") {
  for (const s of states) {
    emit({
      bench: "reset",
      metric: `workflow-live reset (warm) / process floor (${s})`,
      value: m("workflow-live reset (warm)", s) / m("process floor (drop + clone)", s),
      unit: "x",
      max: 0.8
    })
  }
  if (dbmateBinary !== undefined) {
    emit({
      bench: "reset",
      metric: "workflow-live reset (warm) / dbmate drop+create+up",
      value: m("workflow-live reset (warm)", "clean") / m("dbmate drop, create, up", "clean"),
      unit: "x",
      max: 1
    })
  }
  emit({
    bench: "reset",
    metric: "workflow-live --version - node -e 0",
    value: m("workflow-live --version", "clean") - m("node -e 0", "clean"),
    unit: "ms",
    max: 150
  })
}
