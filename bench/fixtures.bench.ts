/**
 * Fixture cleanup at 10 and at 10,000 records: time and statement count. Each round creates N customers
 * with `fixtures.customers(N)` (one fixture, one release), then writes what a workflow would for each
 * (an alert profile, a match, a notification: 4N rows in all) outside any fixture, and times the release,
 * which must remove all of it. The sweep of a killed run of the same size is measured the same way.
 * Target: the same number of DELETE statements at 10 and at 10,000 (set-based, not per row).
 * Runs on its own database `wl_it_bench_fixtures` (created and dropped here).
 * Runnable alone: `node --import tsx bench/fixtures.bench.ts [rounds]`.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Exit, Layer, Scope } from "effect"
import * as DsnGuard from "../src/DsnGuard.js"
import * as Fixtures from "../src/Fixtures.js"
import * as RunId from "../src/RunId.js"
import * as WorkflowLive from "../src/WorkflowLive.js"
import { deletes, recordStatements } from "../test/support/statementCounter.js"
import * as TestDatabase from "../test/support/testDatabase.js"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 3)
const database = "wl_it_bench_fixtures"
const sizes = [10, 10_000] as const

// what the workflow writes for each customer, in three set-based statements (not measured)
const workflowRows = (customerIds: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ids = customerIds.map(String)
    const [tender] = yield* sql<{ id: string }>`INSERT INTO tenders (external_id, title, buyer, published_at)
      VALUES (${`bench-${RunId.generate()}`}, 'Bench tender', 'Bench buyer', now()) RETURNING id`
    yield* sql`INSERT INTO alert_profiles (customer_id, name)
      SELECT c, 'Bench profile' FROM unnest(${ids}::bigint[]) AS c`
    yield* sql`INSERT INTO tender_matches (alert_profile_id, tender_id, score)
      SELECT p.id, ${tender!.id}, 0.5 FROM alert_profiles p WHERE p.customer_id = ANY(${ids}::bigint[])`
    yield* sql`INSERT INTO notifications (customer_id, tender_match_id, channel, subject, body)
      SELECT p.customer_id, m.id, 'email', 'Bench', 'Bench' FROM tender_matches m
      JOIN alert_profiles p ON p.id = m.alert_profile_id WHERE p.customer_id = ANY(${ids}::bigint[])`
    return tender!.id
  })

interface Measured {
  readonly ms: number
  readonly statements: number
  readonly rows: number
}

const releaseRound = (n: number) =>
  Effect.gen(function*() {
    const fixtures = yield* Fixtures.Fixtures
    const sql = yield* SqlClient.SqlClient
    let ms = 0
    let rows = 0
    const [, statements] = yield* recordStatements(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const customers = yield* Scope.extend(fixtures.customers(n), scope)
      const tenderId = yield* workflowRows(customers.map((c) => c.id))
      rows = customers.length * 4
      const t0 = performance.now()
      yield* Scope.close(scope, Exit.void)
      ms = performance.now() - t0
      yield* sql`DELETE FROM tenders WHERE id = ${tenderId}`
    }))
    const left = yield* Fixtures.leaks(fixtures.runId)
    if (Object.values(left).some((c) => c > 0)) return yield* Effect.dieMessage(`release left rows: ${JSON.stringify(left)}`)
    // the last DELETE is the bench's own tender cleanup
    return { ms, statements: deletes(statements) - 1, rows } satisfies Measured
  })

const sweepRound = (n: number) =>
  Effect.gen(function*() {
    const fixtures = yield* Fixtures.Fixtures
    const orphan = yield* Scope.make() // never closed: a killed run
    const customers = yield* Scope.extend(fixtures.customers(n), orphan)
    const tenderId = yield* workflowRows(customers.map((c) => c.id))
    const t0 = performance.now()
    const [swept, statements] = yield* recordStatements(Fixtures.sweep(fixtures.runId))
    const ms = performance.now() - t0
    const sql = yield* SqlClient.SqlClient
    yield* sql`DELETE FROM tenders WHERE id = ${tenderId}`
    const rows = Object.values(swept).reduce((a, b) => a + b, 0)
    if (rows !== n * 4) return yield* Effect.dieMessage(`sweep removed ${rows} rows, expected ${n * 4}`)
    return { ms, statements: deletes(statements), rows } satisfies Measured
  })

const program = Effect.gen(function*() {
  yield* TestDatabase.create(database)
  const results: Array<{ kind: string; n: number; rows: number; ms: number; statements: number }> = []
  for (const kind of ["release", "sweep"] as const) {
    for (const n of sizes) {
      const samples: Array<Measured> = []
      for (let round = 0; round < rounds; round++) {
        // a fresh run per round: the leak check inside the round sees only this round's rows
        const lane = WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)), {
          runId: `bench_${RunId.generate().split("_")[1]}_${round}`,
          fixtures: { testName: () => `bench > ${kind} > ${n}` }
        })
        samples.push(yield* (kind === "release" ? releaseRound(n) : sweepRound(n)).pipe(Effect.provide(lane)))
      }
      const statements = [...new Set(samples.map((s) => s.statements))]
      if (statements.length !== 1) return yield* Effect.dieMessage(`statement count varied: ${statements}`)
      results.push({ kind, n, rows: samples[0]!.rows, ms: median(samples.map((s) => s.ms)), statements: statements[0]! })
    }
  }
  return results
}).pipe(Effect.ensuring(Effect.orDie(TestDatabase.drop(database))))

const results = await Effect.runPromise(program)

console.log(`fixture cleanup on ${database}, median of ${rounds} round(s)`)
console.log("  kind      records  rows deleted  DELETE statements  time")
for (const r of results) {
  console.log(
    `  ${r.kind.padEnd(8)}  ${String(r.n).padStart(7)}  ${String(r.rows).padStart(12)}  ${
      String(r.statements).padStart(17)
    }  ${r.ms.toFixed(1).padStart(8)} ms`
  )
}
for (const kind of ["release", "sweep"]) {
  const [small, large] = sizes.map((n) => results.find((r) => r.kind === kind && r.n === n)!)
  emit({ bench: "fixtures", metric: `${kind} statements at 10`, value: small!.statements, unit: "statements" })
  emit({ bench: "fixtures", metric: `${kind} statements at 10,000`, value: large!.statements, unit: "statements" })
  emit({ bench: "fixtures", metric: `${kind} statements 10,000 / 10`, value: large!.statements / small!.statements, unit: "x", max: 1 })
  emit({ bench: "fixtures", metric: `${kind} ms at 10`, value: Math.round(small!.ms * 10) / 10, unit: "ms" })
  emit({ bench: "fixtures", metric: `${kind} ms at 10,000`, value: Math.round(large!.ms * 10) / 10, unit: "ms" })
}
