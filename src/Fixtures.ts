/**
 * Scoped fixture builders for the live suites, keyed by the run ID.
 *
 * Every builder is an `Effect.acquireRelease`: the release runs when the test's scope closes, on pass,
 * failed assertion, `Effect.fail`, defect and timeout alike. It deletes the rows the fixture created and
 * every row that references them (what the workflow under test wrote for that customer), children first,
 * one set-based statement per table. Rows of other tests and other runs are never touched: a release
 * deletes by the ids it created, the sweep by its run's key prefix.
 *
 * Signals are the exception Vitest leaves open (no finalizers on SIGINT/SIGTERM): that is what
 * {@link sweep} is for, called by `workflow-live run` on a signal and at start.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Data, Effect, Exit, Layer, Scope } from "effect"
import * as DsnGuard from "./DsnGuard.js"
import { currentTestOrFile, provided } from "./internal/currentTest.js"
import * as Builders from "./internal/fixturesBuilders.js"
import type {
  AlertProfile,
  AlertProfileOverrides,
  Customer,
  CustomerOverrides,
  MatchOverrides,
  Notification,
  NotificationOverrides,
  Tender,
  TenderMatch,
  TenderOverrides
} from "./internal/fixturesRows.js"
import * as FixturesSql from "./internal/fixturesSql.js"
import { keepProvideKey, keepSetting } from "./internal/variables.js"
import * as LaneDatabase from "./LaneDatabase.js"
import * as RunId from "./RunId.js"

// The row schemas (what a builder returns) and the override schemas (what a test may set), each with its type.
export {
  AlertProfile,
  AlertProfileOverrides,
  Customer,
  CustomerOverrides,
  MatchOverrides,
  Notification,
  NotificationOverrides,
  Tender,
  TenderMatch,
  TenderOverrides
} from "./internal/fixturesRows.js"

/** The tables the fixtures write, in deletion (foreign-key) order. */
export const tables: ReadonlyArray<Table> = FixturesSql.tables

/** One of the fixtures' tables. */
export type Table = FixturesSql.Table

/** Rows per table. */
export type Counts = Readonly<Record<Table, number>>

/** Why a fixture operation failed. */
export type FixturesReason = "invalid-overrides" | "insert-failed" | "cleanup-failed" | "count-failed" | "leaked"

/** Every reason, for docs and tests. */
export const reasons: ReadonlyArray<FixturesReason> = [
  "invalid-overrides",
  "insert-failed",
  "cleanup-failed",
  "count-failed",
  "leaked"
]

/** A fixture could not be created or cleaned up, or a run left rows behind. */
export class FixturesError extends Data.TaggedError("FixturesError")<{
  readonly reason: FixturesReason
  /** The table concerned, when there is one. */
  readonly table: Table | undefined
  readonly runId: string
  /** The driver's or the Schema's words. */
  readonly detail: string
  /** For `leaked`: rows still carrying the run's keys, per table (only tables with rows). */
  readonly leaked?: Partial<Counts> | undefined
}> {
  override get message(): string {
    const prefix = `wl-${this.runId}-`
    switch (this.reason) {
      case "invalid-overrides":
        return [
          `A ${this.table ?? "fixture"} fixture was given overrides that do not fit its schema (invalid-overrides).`,
          `  Detail: ${this.detail}`,
          `  Why:    overrides are decoded before any row is written, so a bad value fails here and not as a ` +
          `constraint error halfway through a test.`,
          `  Fix:    correct the override in the test (see the Schema \`Fixtures.${schemaName(this.table)}\`).`
        ].join("\n")
      case "insert-failed":
        return [
          `Could not insert a ${this.table ?? "fixture"} row for run ${this.runId} (insert-failed).`,
          `  Driver: ${this.detail}`,
          `  Why:    the fixture writes through the lane's connection; the row was refused by the database.`,
          `  Fix:    a unique violation on a key means a row with that key exists: rows an earlier use of ` +
          `this run ID left (run \`workflow-live run\`, which sweeps at start, or set a new ${RunId.variable}), ` +
          `or two fixture services made keys for the same test at once (tests run concurrently, ` +
          `\`--sequence.concurrent\` or \`it.concurrent\`, which the keys do not support; or two ` +
          `\`Fixtures\` layers alive in one test: use one). Otherwise check that the database is migrated ` +
          `(\`workflow-live reset\`) and the override values fit the columns.`
        ].join("\n")
      case "cleanup-failed":
        return [
          `Could not delete the rows of run ${this.runId}${this.table === undefined ? "" : ` from ${this.table}`} ` +
          `(cleanup-failed).`,
          `  Driver: ${this.detail}`,
          `  Why:    a fixture's rows must not outlive its test; the cleanup is one transaction, so nothing was ` +
          `half-deleted.`,
          `  Fix:    check that the database is reachable and that no other code added a foreign key to these ` +
          `tables; then remove the leftovers with the sweep (\`workflow-live run\` sweeps at start).`
        ].join("\n")
      case "count-failed":
        return [
          `Could not count the rows of run ${this.runId} (count-failed).`,
          `  Driver: ${this.detail}`,
          `  Why:    the leak check must see every table before it can pass the lane.`,
          `  Fix:    check that the workflow database is reachable and migrated (\`workflow-live reset\`).`
        ].join("\n")
      case "leaked": {
        const rows = Object.entries(this.leaked ?? {}).map(([table, n]) => `${table}: ${n}`)
        return [
          `Run ${this.runId} left rows behind (leaked): ${rows.join(", ")}.`,
          `  Why:    every fixture deletes its rows when its test ends; rows still carrying the run's keys ` +
          `(prefix \`${prefix}\`) mean a fixture, or code under test, skipped its cleanup.`,
          `  Find:   SELECT * FROM customers WHERE starts_with(external_id, '${prefix}'); (tenders likewise)`,
          `  Fix:    create those rows with the Fixtures builders inside \`it.scoped\` (not \`it.effect\` ` +
          `with Effect.runPromise, not outside a scope), or give the code under test's own rows a fixture parent.`
        ].join("\n")
      }
    }
  }
}

const schemaName = (table: Table | undefined): string => {
  switch (table) {
    case "customers":
      return "CustomerOverrides"
    case "alert_profiles":
      return "AlertProfileOverrides"
    case "tenders":
      return "TenderOverrides"
    case "tender_matches":
      return "MatchOverrides"
    case "notifications":
      return "NotificationOverrides"
    case undefined:
      return "<Kind>Overrides"
  }
}

/** The fixture builders. Each needs a `Scope` (use `it.scoped`): its release runs when the scope closes. */
export interface Fixtures {
  readonly runId: RunId.RunIdString
  /** The next deterministic key for the running test (`wl-<run>-<testhash>-<seq>`), for the test's own data. */
  readonly key: Effect.Effect<string>
  /** A customer; release deletes it and every profile, match and notification hanging off it. */
  readonly customer: (overrides?: CustomerOverrides) => Effect.Effect<Customer, FixturesError, Scope.Scope>
  /** `count` customers in one INSERT, released together by one set-based cleanup. */
  readonly customers: (
    count: number,
    overrides?: Omit<CustomerOverrides, "email">
  ) => Effect.Effect<ReadonlyArray<Customer>, FixturesError, Scope.Scope>
  /** An alert profile of the customer; release deletes it, its matches and their notifications. */
  readonly alertProfile: (
    customer: Pick<Customer, "id">,
    overrides?: AlertProfileOverrides
  ) => Effect.Effect<AlertProfile, FixturesError, Scope.Scope>
  /** A tender; release deletes it, its matches and their notifications. */
  readonly tender: (overrides?: TenderOverrides) => Effect.Effect<Tender, FixturesError, Scope.Scope>
  /** A match of a tender to a profile; release deletes it and its notifications. */
  readonly match: (
    alertProfile: Pick<AlertProfile, "id">,
    tender: Pick<Tender, "id">,
    overrides?: MatchOverrides
  ) => Effect.Effect<TenderMatch, FixturesError, Scope.Scope>
  /**
   * Hands rows the code under test wrote under its own ids (not a fixture key) to the test's scope:
   * when it closes they are deleted with every row referencing them, like a fixture's own. The lane's
   * leak check fails on any row a run leaves, so a workflow's own rows need this (or their own cleanup).
   */
  readonly adopt: (table: Table, ids: ReadonlyArray<number>) => Effect.Effect<void, never, Scope.Scope>
  /** A notification to the customer, optionally about a match; release deletes it. */
  readonly notification: (
    customer: Pick<Customer, "id">,
    options?: NotificationOverrides & { readonly match?: Pick<TenderMatch, "id"> | undefined }
  ) => Effect.Effect<Notification, FixturesError, Scope.Scope>
}

/** The service tag for the fixture builders. */
export const Fixtures: Context.Tag<Fixtures, Fixtures> = Context.GenericTag<Fixtures>("workflow-live/Fixtures")

/** Options for {@link make}. */
export interface Options {
  /**
   * The running test's identity, for keys. Default: the Vitest test in this worker
   * (`<file> > <describe> > <test>`); outside a test (a suite's layer, a hook) `<file> > outside-a-test`,
   * so suite-wide fixtures of files running side by side get different keys; outside Vitest `outside-a-test`.
   */
  readonly testName?: (() => string) | undefined
  /**
   * `failed`: a release whose test failed (its scope closed with a failure) leaves its rows in place, for
   * the lane to report and the next reset to remove. Default: what the lane handed to this worker, else
   * `WORKFLOW_LIVE_KEEP`, else `none`.
   */
  readonly keep?: "none" | "failed" | undefined
}

const keepOf = (options: Options): boolean =>
  (options.keep ?? provided(keepProvideKey) ?? keepSetting()) === "failed"

const cleanupError = (runId: string, table: Table | undefined) => (cause: unknown): FixturesError =>
  new FixturesError({ reason: "cleanup-failed", table, runId, detail: Builders.detailOf(cause) })

/**
 * The builders on the lane's connection. The connection's identity is checked once more here, so no
 * fixture ever writes through a client that is not on the verified target.
 */
export const make = (
  options: Options = {}
): Effect.Effect<
  Fixtures,
  LaneDatabase.LaneDatabaseError,
  SqlClient.SqlClient | RunId.RunId | DsnGuard.VerifiedTarget
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { runId, key: keyFor } = yield* RunId.RunId
    const target = yield* DsnGuard.VerifiedTarget
    yield* DsnGuard.assertVerified(target)
    yield* LaneDatabase.checkIdentity(target)

    const keepFailed = keepOf(options)
    const ctx: Builders.Context<FixturesError> = {
      sql,
      nextKeys: Builders.keySequence(options.testName ?? currentTestOrFile, keyFor),
      // a failed test's rows stay for inspection when asked; the lane reports them and its sweep leaves them
      release: (table, ids) => (exit) =>
        keepFailed && Exit.isFailure(exit)
          ? Effect.void
          // A release cannot fail; a cleanup that did not happen must still fail the test, loudly.
          : FixturesSql.cleanup(sql, table, ids).pipe(Effect.mapError(cleanupError(runId, table)), Effect.orDie),
      fail: (failure) => new FixturesError({ ...failure, runId })
    }
    const customers = Builders.customers(ctx)
    const fixtures: Fixtures = {
      runId,
      key: Effect.sync(() => ctx.nextKeys(1)[0]!),
      customers,
      adopt: (table, ids) => Effect.addFinalizer(ctx.release(table, ids.map(String))),
      customer: (overrides) => Builders.one(customers(1, overrides)),
      alertProfile: Builders.alertProfile(ctx),
      tender: Builders.tender(ctx),
      match: Builders.match(ctx),
      notification: Builders.notification(ctx)
    }
    return fixtures
  })

/** The fixture builders, on the lane's connection and run ID. */
export const layer = (
  options: Options = {}
): Layer.Layer<Fixtures, LaneDatabase.LaneDatabaseError, SqlClient.SqlClient | RunId.RunId | DsnGuard.VerifiedTarget> =>
  Layer.effect(Fixtures, make(options))

/** The statements a release runs for a record kind: fixed, whatever the number of rows. */
export const cleanupStatementCount: (root: FixturesSql.Root) => number = FixturesSql.statementCount

/** What a sweep deleted, per table. */
export type Swept = Counts

/**
 * Deletes every row of the run (all tests), children first, one statement per table in one
 * transaction. Rows of other runs are untouched.
 */
export const sweep = (runId: RunId.RunIdString): Effect.Effect<Swept, FixturesError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    FixturesSql.sweep(sql, RunId.prefix(runId)).pipe(
      Effect.map((deleted) => Object.fromEntries(tables.map((t) => [t, deleted[t] ?? 0])) as Counts),
      Effect.mapError(cleanupError(runId, undefined))
    ))

/** Rows still carrying the run's keys (or hanging off rows that do), per table. */
export const leaks = (runId: RunId.RunIdString): Effect.Effect<Counts, FixturesError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    FixturesSql.leaks(sql, RunId.prefix(runId)).pipe(
      Effect.mapError((cause) => new FixturesError({ reason: "count-failed", table: undefined, runId, detail: Builders.detailOf(cause) }))
    ))

/** Fails with `leaked` (naming each table and its count) when any row of the run is left. */
export const leakCheck = (runId: RunId.RunIdString): Effect.Effect<void, FixturesError, SqlClient.SqlClient> =>
  Effect.flatMap(leaks(runId), (counts) => {
    const leaked = Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)) as Partial<Counts>
    return Object.keys(leaked).length === 0
      ? Effect.void
      : Effect.fail(new FixturesError({ reason: "leaked", table: undefined, runId, detail: "", leaked }))
  })

/**
 * Runs one of {@link sweep} / {@link leaks} / {@link leakCheck} on its own short-lived lane connection
 * to a verified target (for the CLI and the global setup, which have no suite layer).
 */
export const onTarget = <A, E>(
  target: DsnGuard.VerifiedTarget,
  effect: Effect.Effect<A, E, SqlClient.SqlClient>
): Effect.Effect<A, E | LaneDatabase.LaneDatabaseError> =>
  Effect.gen(function*() {
    yield* DsnGuard.assertVerified(target)
    return yield* effect
  }).pipe(
    Effect.provide(
      LaneDatabase.layer({ maxConnections: 1 }).pipe(Layer.provide(Layer.succeed(DsnGuard.VerifiedTarget, target)))
    ),
    Effect.scoped
  )
