/**
 * What a lane run wrote, found without any cooperation from the code under test. The reset leaves the
 * workflow database fresh from its template, so every row written after a baseline taken right after the
 * reset was written by the run: the fixtures' keyed rows, and also whatever the workflow under test wrote
 * under its own ids (the sample job's tenders). The leak check names every table with such rows left when
 * the tests are over; the sweep deletes them, children first.
 *
 * The baseline is also recorded on the database itself, so the next run's reset can say what an
 * interrupted or killed run left behind before it drops it.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Data, Effect, Layer, Option } from "effect"
import * as DatabaseReset from "./DatabaseReset.js"
import * as DsnGuard from "./DsnGuard.js"
import { classify } from "./internal/pgError.js"
import { baselineSetting } from "./internal/variables.js"
import * as WrittenRows from "./internal/writtenRows.js"
import * as LaneDatabase from "./LaneDatabase.js"
import type * as RunId from "./RunId.js"

/** Why the leak check or the sweep failed. */
export const reasons = ["leaked", "baseline-failed", "count-failed", "sweep-failed", "not-ours"] as const

/** Why the leak check or the sweep failed. */
export type LeakCheckReason = typeof reasons[number]

/** Rows per table (`schema.table`; tables of `public` by their bare name). */
export type Rows = Readonly<Record<string, number>>

/** The point after the reset from which every row counts as the run's. */
export interface Baseline {
  readonly runId: string
  /** The first transaction ID after the reset (64-bit, as text). */
  readonly xid: string
}

/** The run left rows behind, or its rows could not be counted or removed. */
export class LeakCheckError extends Data.TaggedError("LeakCheckError")<{
  readonly reason: LeakCheckReason
  readonly runId: string
  readonly detail: string
  /** For `leaked`: rows the run wrote that are still there, per table. */
  readonly rows?: Rows | undefined
  /** The server's SQLSTATE, when it refused a statement: the message's words may be in the server's language. */
  readonly code?: string | undefined
}> {
  override get message(): string {
    // 55P03 lock_not_available: the lock_timeout this module sets
    if ((this.reason === "count-failed" || this.reason === "sweep-failed") && this.code === "55P03") {
      return [
        `Could not ${this.reason === "count-failed" ? "count" : "remove"} the rows written by run ${this.runId} ` +
        `(${this.reason}): ${this.detail}`,
        `  Why:    another session held a lock on one of the tables for more than ${lockTimeout} (an open ` +
        `transaction a test or a person left, a \`LOCK TABLE\`); the lane does not wait for it longer, so that ` +
        `it can end (and honour Ctrl-C).`,
        `  Fix:    find it (\`SELECT pid, application_name, state, xact_start, query FROM pg_stat_activity WHERE ` +
        `datname = current_database()\`) and end it, then run the lane again; the next reset drops whatever is left.`
      ].join("\n")
    }
    // 42501 insufficient_privilege: the only statement here is the ALTER DATABASE … SET of the baseline
    if (this.reason === "baseline-failed" && this.code === "42501") {
      return [
        `Could not take the baseline of run ${this.runId} (baseline-failed): ${this.detail}`,
        `  Why:    the lane records its run's baseline on the database (\`ALTER DATABASE … SET ${setting}\`), ` +
        `so the next run can tell what this one left; PostgreSQL 15+ allows that only to a superuser or a ` +
        `role granted it.`,
        `  Fix:    as a superuser: \`GRANT SET ON PARAMETER ${setting} TO <the DSN's user>;\` (preflight checks it).`
      ].join("\n")
    }
    switch (this.reason) {
      case "leaked":
        return [
          `Run ${this.runId} left rows behind (leaked): ${format(this.rows ?? {})}.`,
          `  Why:    every row written after the reset was written by this run; when the tests are over, each ` +
          `must have been removed by the test that caused it. The lane's sweep runs next and removes them (its line says what it removed); whatever it cannot remove, the next reset drops.`,
          `  Fix:    create the test's own rows with the Fixtures builders inside \`it.scoped\`, and give rows the ` +
          `workflow under test writes under its own ids to the test's scope: \`fixtures.adopt("tenders", ids)\` ` +
          `(see README, "Composing layers in a new suite").`
        ].join("\n")
      case "not-ours":
        return [
          `Did not sweep the rows of run ${this.runId} (not-ours): ${this.detail}`,
          `  Why:    the sweep deletes every row written since this run's reset; once another lane has reset the ` +
          `database, those rows are that lane's, and must not be touched.`,
          `  Fix:    nothing to do here: the reset that replaced the database removed this run's rows.`
        ].join("\n")
      case "baseline-failed":
      case "count-failed":
      case "sweep-failed":
        return [
          `Could not ${this.reason === "baseline-failed" ? "take the baseline of" : this.reason === "count-failed" ? "count the rows written by" : "remove the rows written by"} ` +
          `run ${this.runId} (${this.reason}): ${this.detail}`,
          `  Why:    the leak check reads every table of the workflow database with the lane's connection.`,
          `  Fix:    check that the lane's role can read and delete in every table (it owns them after a reset), ` +
          `and that the database is reachable; the next run's reset drops whatever is left.`
        ].join("\n")
    }
  }
}

const publicPrefix = "public."

const displayName = (table: string): string => table.startsWith(publicPrefix) ? table.slice(publicPrefix.length) : table

const display = (rows: WrittenRows.Rows): Rows => Object.fromEntries(Object.entries(rows).map(([t, n]) => [displayName(t), n]))

/** `tenders 2, notifications 2` */
export const format = (rows: Rows): string =>
  Object.entries(rows).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(", ")

/** The database-level setting that carries the baseline of the run that last took one. */
export const setting: string = baselineSetting

/**
 * How long the leak check and the sweep wait for a lock a session of someone else's holds on a table
 * (an open transaction a test left, a person's `LOCK TABLE`): they fail saying so instead of waiting as
 * long as it is held, which would keep the lane from ending (and from honouring a signal).
 */
export const lockTimeout = "10s"

const onTarget = <A, E>(target: DsnGuard.VerifiedTarget, effect: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.scoped(
    Effect.flatMap(DsnGuard.assertVerified(target), () =>
      // one connection (maxConnections 1): the setting holds for every statement that follows on it
      Effect.zipRight(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`SET lock_timeout = '${lockTimeout}'`)), effect)).pipe(
      Effect.provide(
        LaneDatabase.layer({ maxConnections: 1 }).pipe(Layer.provide(Layer.succeed(DsnGuard.VerifiedTarget, target)))
      )
    )
  )

const detailOf = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : cause
  return inner instanceof Error ? inner.message : String(inner)
}

const failed = (reason: "baseline-failed" | "count-failed" | "sweep-failed", runId: string, cause: unknown): LeakCheckError =>
  new LeakCheckError({ reason, runId, detail: detailOf(cause), code: classify(cause).code })

/**
 * Takes the baseline right after the reset, and records it on the database (a database-level setting,
 * no table), so the next run can tell what this one left if it never finishes.
 */
export const baseline = (target: DsnGuard.VerifiedTarget, runId: RunId.RunIdString): Effect.Effect<Baseline, LeakCheckError> =>
  onTarget(
    target,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const xid = yield* WrittenRows.currentXid(sql)
      // a run ID is [a-z0-9_] and the xid digits (both checked): safe as a literal, which SET requires
      yield* sql`ALTER DATABASE ${sql(target.database)} SET ${sql.literal(setting)} = ${sql.literal(`'${runId}:${xid}'`)}`
      return { runId, xid }
    })
  ).pipe(Effect.mapError((cause) => failed("baseline-failed", runId, cause)))

/**
 * Rows the lane means to leave in place, per table, by primary key (as text): a failed test's rows kept
 * for inspection. They are neither leaks nor swept.
 */
export type Keep = Readonly<Record<string, ReadonlyArray<string>>>

/** Options of {@link written}, {@link check} and {@link sweep}. */
export interface Options {
  readonly keep?: Keep | undefined
}

const keptIn = (keep: Keep | undefined) => (table: string): ReadonlyArray<string> => [
  ...new Set(keep?.[displayName(table)] ?? [])
]

/** Rows written after the baseline that are still there, per table (only tables with rows), kept rows left out. */
export const written = (
  target: DsnGuard.VerifiedTarget,
  base: Baseline,
  options: Options = {}
): Effect.Effect<Rows, LeakCheckError> =>
  onTarget(target, Effect.flatMap(SqlClient.SqlClient, (sql) => WrittenRows.written(sql, base.xid))).pipe(
    Effect.map((rows) => {
      const kept = keptIn(options.keep)
      const left = Object.entries(rows).map(([t, n]) => [t, n - kept(t).length] as const).filter(([, n]) => n > 0)
      return display(Object.fromEntries(left))
    }),
    Effect.mapError((cause) => failed("count-failed", base.runId, cause))
  )

/** Fails with `leaked`, naming each table and its count, when the run left any row. */
export const check = (target: DsnGuard.VerifiedTarget, base: Baseline, options: Options = {}): Effect.Effect<Rows, LeakCheckError> =>
  Effect.flatMap(written(target, base, options), (rows) =>
    Object.keys(rows).length === 0
      ? Effect.succeed(rows)
      : Effect.fail(new LeakCheckError({ reason: "leaked", runId: base.runId, detail: "", rows })))

/**
 * Deletes every row written after the baseline (kept rows aside), children first, in one transaction;
 * returns what went. Fails with `not-ours`, deleting nothing, when another lane's reset has replaced the
 * database: then its rows are that lane's.
 */
export const sweep = (target: DsnGuard.VerifiedTarget, base: Baseline, options: Options = {}): Effect.Effect<Rows, LeakCheckError> =>
  onTarget(
    target,
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      WrittenRows.sweep(sql, base.xid, { setting, value: `${base.runId}:${base.xid}` }, keptIn(options.keep)))
  ).pipe(
    Effect.mapError((cause) => failed("sweep-failed", base.runId, cause)),
    Effect.flatMap((swept) =>
      typeof swept === "object"
        ? Effect.succeed(display(swept))
        : Effect.fail(
          new LeakCheckError({
            reason: "not-ours",
            runId: base.runId,
            detail: "another lane's reset has replaced the database"
          })
        )
    )
  )

const lockHeldByAnotherLane = (sql: SqlClient.SqlClient, database: string) =>
  Effect.map(
    sql<{ held: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_locks l
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.pid <> pg_backend_pid()
        AND l.classid = ${DatabaseReset.lockNamespace}::int4::oid AND l.objid = hashtext(${database})::oid) AS held`,
    (rows) => rows[0]?.held === true
  )

/**
 * What the last run on this database left, read before the reset drops it: the run ID and baseline it
 * recorded, and the rows written since. `None` when the database is new, no run recorded a baseline, the
 * last run left nothing, or another lane is still running on it (its rows are not leftovers).
 */
export const leftover = (target: DsnGuard.VerifiedTarget): Effect.Effect<Option.Option<{ readonly runId: string; readonly rows: Rows }>> =>
  onTarget(
    target,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql<{ value: string | null }>`SELECT pg_catalog.current_setting(${setting}, true) AS value`
      const match = /^([a-z0-9_]+):(\d+)$/.exec(row?.value ?? "")
      if (match === null || (yield* lockHeldByAnotherLane(sql, target.database))) return Option.none()
      const rows = display(yield* WrittenRows.written(sql, match[2]!))
      return Object.keys(rows).length === 0 ? Option.none() : Option.some({ runId: match[1]!, rows })
    })
  ).pipe(Effect.orElseSucceed(() => Option.none()))
