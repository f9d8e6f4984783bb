/**
 * Keeping a failed test's rows (`WORKFLOW_LIVE_KEEP=failed`, `workflow-live run --keep-failed`): which rows
 * are the failed tests', for the leak check and the sweep to leave alone and the report to show.
 *
 * A test's rows are found from its fixture keys: the key of each fixture carries the hash of the test that
 * made it (`wl-<run>-<testhash>-<seq>`), so the lane recomputes that hash from the failed test's file and
 * name. Rows hanging off those keyed rows (what the workflow wrote for the test's customer, profile or
 * tender) and the run's rows they reference are the test's too. Rows tied to no key of a failed test
 * cannot be told from a passing test's leak: the leak check names them and the sweep removes them.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import type * as DsnGuard from "../DsnGuard.js"
import * as Fixtures from "../Fixtures.js"
import * as KeptReport from "../internal/keptReport.js"
import * as KeptRows from "../internal/keptRows.js"
import { type Keep as KeepMode, keepSetting } from "../internal/variables.js"
import type * as LaneReport from "../LaneReport.js"
import * as LeakCheck from "../LeakCheck.js"
import * as RunId from "../RunId.js"
import type { Lane, TestsOutcome } from "./state.js"

/** What this lane keeps: its option, else `WORKFLOW_LIVE_KEEP` (checked by the CLI before the lane starts). */
export const mode = (lane: Lane): KeepMode => lane.options.keep ?? (keepSetting() === "failed" ? "failed" : "none")

/** The tests whose rows are kept: failed tests of a run that completed, when keeping is on. */
export const failedTests = (lane: Lane, outcome: TestsOutcome): ReadonlyArray<LaneReport.TestCase> =>
  mode(lane) === "failed" && outcome._tag === "Completed" ? outcome.tests.cases.filter((c) => c.state === "failed") : []

const detailOf = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : cause
  return inner instanceof Error ? inner.message : String(inner)
}

/** The rows of each failed test, with the command that shows them; `null` when nothing is kept. */
export const find = (
  target: DsnGuard.VerifiedTarget,
  baseline: LeakCheck.Baseline,
  tests: ReadonlyArray<LaneReport.TestCase>
): Effect.Effect<ReadonlyArray<LaneReport.KeptTest> | null, LeakCheck.LeakCheckError> =>
  tests.length === 0 ? Effect.succeed(null) : Fixtures.onTarget(
    target,
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.forEach(tests, (test) => {
        // the same identity the worker hashed for the keys: `<file> > <describe> > <test>`
        const prefix = `${RunId.prefix(baseline.runId as RunId.RunIdString)}${RunId.testHash(`${test.file} > ${test.name}`)}-`
        return Effect.map(KeptRows.ofTest(sql, prefix, baseline.xid), (found): LaneReport.KeptTest => ({
          file: test.file,
          name: test.name,
          keys: found.keys,
          rows: Object.fromEntries(Object.entries(found.rows).map(([t, ids]) => [t, ids.length])),
          ids: found.rows,
          psql: KeptReport.psqlCommand(target, found.rows)
        }))
      }))
  ).pipe(
    Effect.mapError((cause) =>
      new LeakCheck.LeakCheckError({
        reason: "count-failed",
        runId: baseline.runId,
        detail: `finding the failed tests' rows: ${detailOf(cause)}`
      })
    )
  )

/** The kept rows as the leak check and the sweep take them: primary keys per table. */
export const asKeep = (kept: ReadonlyArray<LaneReport.KeptTest> | null): LeakCheck.Keep => {
  const keep: Record<string, Array<string>> = {}
  for (const test of kept ?? []) {
    for (const [table, ids] of Object.entries(test.ids)) keep[table] = [...new Set([...(keep[table] ?? []), ...ids])]
  }
  return keep
}

/** Rows per table of a {@link asKeep} value. */
export const totalsOf = (keep: LeakCheck.Keep): LaneReport.Rows =>
  Object.fromEntries(Object.entries(keep).map(([t, ids]) => [t, ids.length]))

/** Rows kept per table, over every failed test. */
export const totals = (kept: ReadonlyArray<LaneReport.KeptTest> | null): LaneReport.Rows => totalsOf(asKeep(kept))

declare module "vitest" {
  export interface ProvidedContext {
    /** What the workers' fixtures keep of a failed test (`keepProvideKey`). */
    workflowLiveKeep: "none" | "failed"
  }
}
