/** The layer the nested suites use: the harness's own composition on the database the parent created. */
import { SqlClient } from "@effect/sql"
import { Effect, Layer, Schedule } from "effect"
import * as DsnGuard from "../../../src/DsnGuard.js"
import * as Fixtures from "../../../src/Fixtures.js"
import * as RunId from "../../../src/RunId.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"
import * as TestDatabase from "../testDatabase.js"

const database = process.env.WL_NESTED_DATABASE ?? "wl_it_nested_missing"

/** Run ID from WORKFLOW_LIVE_RUN_ID, as in the lane. */
export const Suite = WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)))

/** A customer with a profile, a tender, a match and a notification: everything a workflow writes. */
export const customerWithEverything = Effect.gen(function*() {
  const fixtures = yield* Fixtures.Fixtures
  const customer = yield* fixtures.customer()
  const profile = yield* fixtures.alertProfile(customer)
  const tender = yield* fixtures.tender()
  const match = yield* fixtures.match(profile, tender)
  const notification = yield* fixtures.notification(customer, { match })
  return { customer, profile, tender, match, notification }
})

/** The run's customers currently in the database (all files, all tests). */
export const runCustomers = Effect.gen(function*() {
  const { runId } = yield* RunId.RunId
  return (yield* Fixtures.leaks(runId)).customers
})

/** Whether a customer row exists. */
export const exists = (id: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: string }>`SELECT count(*) AS n FROM customers WHERE id = ${id}`.pipe(
      Effect.map((rows) => rows[0]?.n === "1")
    ))

/** Polls until `check` holds (another file's progress), failing after `seconds`. */
export const waitUntil = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, seconds = 20) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => new Error(`timed out waiting until ${what}`)),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: seconds * 20 }),
    Effect.asVoid
  )
