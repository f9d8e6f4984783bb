/**
 * The reset's cost against its floor, on 127.0.0.1:5432, at 5 and at 100 migrations. The floor is what
 * no reset can beat: `DROP DATABASE … WITH (FORCE)` + `CREATE DATABASE … TEMPLATE` issued directly on an
 * already-open connection. Targets: warm reset <= 1.5x the floor; warm at 100 migrations <= 1.2x warm at 5.
 * The 100 are the 5 real migrations plus 95 trivial ones (a comment each), so the schema is the same
 * size: the ratio isolates what the harness pays per migration (loading, hashing, the Migrator's
 * bookkeeping) from what PostgreSQL pays per cloned relation, which the floor already shows.
 * Runnable alone: `node --import tsx bench/reset.bench.ts [rounds]`.
 */
import { Effect, Option, Redacted } from "effect"
import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import * as DatabaseReset from "../src/DatabaseReset.js"
import * as DsnGuard from "../src/DsnGuard.js"
import * as Migrations from "../src/Migrations.js"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 7)
const server = { host: "127.0.0.1", port: 5432, user: "postgres" }

const admin = new pg.Client({ ...server, database: "postgres", application_name: "workflow-live bench" })
await admin.connect()
const q = (text: string) => admin.query(text)
const ident = pg.escapeIdentifier

// the package's 5 migrations, then 95 trivial ones
const hundred = await mkdtemp(join(tmpdir(), "wl-bench-migrations-"))
const real = (await readdir(Migrations.defaultDirectory)).filter((f) => f.endsWith(".sql")).sort()
for (const file of real) await copyFile(join(Migrations.defaultDirectory, file), join(hundred, file))
for (let i = real.length + 1; i <= 100; i++) {
  const id = String(i).padStart(4, "0")
  await writeFile(join(hundred, `${id}_revision_${id}.sql`), `COMMENT ON TABLE customers IS 'revision ${id}';\n`)
}

// and a third variant whose 95 extra migrations each create a table with an index: the schema grows, so
// the clone itself (the floor) grows with it; reported to show that, with no target of its own
const tables = await mkdtemp(join(tmpdir(), "wl-bench-migrations-tables-"))
for (const file of real) await copyFile(join(Migrations.defaultDirectory, file), join(tables, file))
for (let i = real.length + 1; i <= 100; i++) {
  const id = String(i).padStart(4, "0")
  await writeFile(
    join(tables, `${id}_table_${id}.sql`),
    `CREATE TABLE audit_${id} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id bigint REFERENCES customers (id), note text);\n` +
      `CREATE INDEX audit_${id}_customer_id_idx ON audit_${id} (customer_id);\n`
  )
}

interface Case {
  readonly label: string
  readonly directory: string
  readonly database: string
  readonly floorDatabase: string
}
const cases: ReadonlyArray<Case> = [
  { label: "5", directory: Migrations.defaultDirectory, database: "wl_bench_reset_5", floorDatabase: "wl_bench_floor_5" },
  { label: "100", directory: hundred, database: "wl_bench_reset_100", floorDatabase: "wl_bench_floor_100" },
  { label: "100t", directory: tables, database: "wl_bench_reset_100t", floorDatabase: "wl_bench_floor_100t" }
]

const dropOwn = async (c: Case) => {
  const rows = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname = ANY($1) OR starts_with(datname, $2)",
    [[c.database, c.floorDatabase], Migrations.templatePrefix(c.database)]
  )
  for (const { datname } of rows.rows) await q(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`)
}

const resetOnce = async (c: Case) => {
  const target = await Effect.runPromise(
    DsnGuard.verify(Option.some(Redacted.make(`postgres://postgres@127.0.0.1:5432/${c.database}`)), {}, { database: c.database })
  )
  const started = performance.now()
  const result = await Effect.runPromise(DatabaseReset.reset(target, { migrationsDirectory: c.directory }))
  return { millis: performance.now() - started, result }
}

const floorOnce = async (c: Case, template: string) => {
  const started = performance.now()
  await q(`DROP DATABASE IF EXISTS ${ident(c.floorDatabase)} WITH (FORCE)`)
  await q(`CREATE DATABASE ${ident(c.floorDatabase)} TEMPLATE ${ident(template)}`)
  return performance.now() - started
}

const measured = new Map<string, { floor: number; warm: number; cold: number }>()
try {
  for (const c of cases) {
    await dropOwn(c)
    const first = await resetOnce(c) // builds the template (and warms module caches)
    if (first.result.mode !== "cold") throw new Error(`expected a cold first reset of ${c.database}`)
    const floor: Array<number> = []
    const warm: Array<number> = []
    const cold: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      // interleaved, so disk and load noise hit all three alike
      floor.push(await floorOnce(c, first.result.template))
      const w = await resetOnce(c)
      if (w.result.mode !== "warm" || w.result.applied.length !== 0) throw new Error("expected a warm reset applying 0")
      warm.push(w.millis)
      await q(`DROP DATABASE ${ident(first.result.template)} WITH (FORCE)`)
      const k = await resetOnce(c)
      if (k.result.mode !== "cold") throw new Error("expected a cold reset")
      cold.push(k.millis)
    }
    const m = { floor: median(floor), warm: median(warm), cold: median(cold) }
    measured.set(c.label, m)
    console.log(
      `${c.label.padStart(3)} migrations: floor ${m.floor.toFixed(0)} ms, warm reset ${m.warm.toFixed(0)} ms, ` +
        `cold reset ${m.cold.toFixed(0)} ms (medians of ${rounds}); warm/floor ${(m.warm / m.floor).toFixed(2)}x`
    )
  }
} finally {
  for (const c of cases) await dropOwn(c)
  await admin.end()
  await rm(hundred, { recursive: true, force: true })
  await rm(tables, { recursive: true, force: true })
}

const at5 = measured.get("5")!
const at100 = measured.get("100")!
const at100t = measured.get("100t")!
console.log(`warm@100 / warm@5: ${(at100.warm / at5.warm).toFixed(2)}x`)
console.log(
  `100 migrations that each add a table: warm/floor ${(at100t.warm / at100t.floor).toFixed(2)}x; against 5 ` +
    `migrations the floor grows ${(at100t.floor / at5.floor).toFixed(2)}x and the warm reset ${(at100t.warm / at5.warm).toFixed(2)}x`
)
emit({ bench: "reset", metric: "warm reset / floor, 5 migrations", value: at5.warm / at5.floor, unit: "x", max: 1.5 })
emit({ bench: "reset", metric: "warm reset / floor, 100 migrations", value: at100.warm / at100.floor, unit: "x", max: 1.5 })
emit({ bench: "reset", metric: "warm reset at 100 migrations / at 5", value: at100.warm / at5.warm, unit: "x", max: 1.2 })
emit({ bench: "reset", metric: "warm reset / floor, 100 table migrations", value: at100t.warm / at100t.floor, unit: "x", max: 1.5 })
emit({ bench: "reset", metric: "floor at 100 table migrations / at 5 (PostgreSQL)", value: at100t.floor / at5.floor, unit: "x" })
emit({ bench: "reset", metric: "warm reset at 100 table migrations / at 5", value: at100t.warm / at5.warm, unit: "x" })
emit({ bench: "reset", metric: "floor, 5 migrations", value: at5.floor, unit: "ms" })
emit({ bench: "reset", metric: "warm reset, 5 migrations", value: at5.warm, unit: "ms" })
emit({ bench: "reset", metric: "cold reset, 5 migrations", value: at5.cold, unit: "ms" })
emit({ bench: "reset", metric: "floor, 100 migrations", value: at100.floor, unit: "ms" })
emit({ bench: "reset", metric: "warm reset, 100 migrations", value: at100.warm, unit: "ms" })
emit({ bench: "reset", metric: "cold reset, 100 migrations", value: at100.cold, unit: "ms" })
