/**
 * The fixture builders: each decodes its overrides, inserts its rows under the running test's keys and
 * registers their release in the caller's scope. The caller supplies the release and turns a
 * {@link Failure} into its own error (`Fixtures` makes a `FixturesError`), so this leaf module names no
 * public module.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, type Exit, ParseResult, Schema, type Scope } from "effect"
import * as Rows from "./fixturesRows.js"
import type { Root, Table } from "./fixturesSql.js"

/** A builder failure, before the caller adds the run ID and makes it its error. */
export interface Failure {
  readonly reason: "invalid-overrides" | "insert-failed"
  readonly table: Table
  readonly detail: string
}

/** What every builder needs. */
export interface Context<E> {
  readonly sql: SqlClient.SqlClient
  /** The next `count` keys of the running test. */
  readonly nextKeys: (count: number) => ReadonlyArray<string>
  /** Deletes the rows of `table` with these ids (and what references them), given how the scope closed. */
  readonly release: (
    table: Table,
    ids: ReadonlyArray<string>
  ) => (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
  readonly fail: (failure: Failure) => E
}

/** The driver's words: a `SqlError` wraps them in its `cause`. */
export const detailOf = (cause: unknown): string => {
  const inner = typeof cause === "object" && cause !== null && "cause" in cause ? cause.cause : cause
  return inner instanceof Error ? inner.message : String(inner)
}

/** Per test, 1, 2, 3...: the same test creates the same keys in every run with the same run ID. */
export const keySequence = (
  testName: () => string,
  keyFor: (test: string, seq: number) => string
): (count: number) => ReadonlyArray<string> => {
  const sequences = new Map<string, number>()
  return (count) => {
    const test = testName()
    const start = sequences.get(test) ?? 0
    sequences.set(test, start + count)
    return Array.from({ length: count }, (_, i) => keyFor(test, start + i + 1))
  }
}

const decodeOverrides = <A, I, E>(
  ctx: Context<E>,
  schema: Schema.Schema<A, I>,
  table: Table,
  value: unknown
): Effect.Effect<A, E> =>
  Schema.decodeUnknown(schema)(value ?? {}).pipe(
    Effect.mapError((error) =>
      ctx.fail({
        reason: "invalid-overrides",
        table,
        detail: ParseResult.TreeFormatter.formatErrorSync(error).replace(/\s*\n\s*/g, " ")
      })
    )
  )

// Acquire and release run uninterruptibly, so a timeout between INSERT and registering the
// release cannot leave an orphan row.
const scoped = <A extends { readonly id: number }, I, E>(
  ctx: Context<E>,
  table: Root,
  schema: Schema.Schema<A, I>,
  insert: Effect.Effect<ReadonlyArray<unknown>, unknown>
): Effect.Effect<ReadonlyArray<A>, E, Scope.Scope> => {
  const insertFailed = (cause: unknown): E => ctx.fail({ reason: "insert-failed", table, detail: detailOf(cause) })
  return Effect.acquireRelease(
    insert.pipe(
      Effect.mapError(insertFailed),
      Effect.flatMap((rows) => Schema.decodeUnknown(Schema.Array(schema))(rows).pipe(Effect.mapError(insertFailed)))
    ),
    (rows, exit) => ctx.release(table, rows.map((row) => String(row.id)))(exit)
  )
}

/** The single row of a one-row builder. */
export const one = <A, E>(effect: Effect.Effect<ReadonlyArray<A>, E, Scope.Scope>): Effect.Effect<A, E, Scope.Scope> =>
  Effect.map(effect, (rows) => rows[0]!)

/** `count` customers in one INSERT, released together. */
export const customers = <E>(ctx: Context<E>) =>
(
  count: number,
  overrides?: Rows.CustomerOverrides
): Effect.Effect<ReadonlyArray<Rows.Customer>, E, Scope.Scope> =>
  Effect.gen(function*() {
    const o = yield* decodeOverrides(ctx, Rows.CustomerOverrides, "customers", overrides)
    const keys = ctx.nextKeys(count)
    const records = keys.map((key, i) => ({
      external_id: key,
      name: o.name ?? `Nordbau Infrastruktur GmbH ${count === 1 ? "" : `#${i + 1} `}(${key})`,
      email: o.email ?? `${key}@tenders.example.test`
    }))
    return yield* scoped(
      ctx,
      "customers",
      Rows.Customer,
      ctx.sql`INSERT INTO customers ${ctx.sql.insert(records)} RETURNING id, external_id, name, email`
    )
  })

/** An alert profile of the customer. */
export const alertProfile = <E>(ctx: Context<E>) =>
(
  customer: Pick<Rows.Customer, "id">,
  overrides?: Rows.AlertProfileOverrides
): Effect.Effect<Rows.AlertProfile, E, Scope.Scope> =>
  Effect.gen(function*() {
    const { sql } = ctx
    const o = yield* decodeOverrides(ctx, Rows.AlertProfileOverrides, "alert_profiles", overrides)
    const [key] = ctx.nextKeys(1)
    return yield* one(scoped(
      ctx,
      "alert_profiles",
      Rows.AlertProfile,
      sql`INSERT INTO alert_profiles ${
        sql.insert({
          customer_id: customer.id,
          name: o.name ?? `Road resurfacing, Bavaria (${key})`,
          keywords: o.keywords ?? ["road", "asphalt", "resurfacing"],
          cpv_codes: o.cpvCodes ?? ["45233142"],
          regions: o.regions ?? ["DE21"],
          min_value_eur: o.minValueEur === undefined ? 50000 : o.minValueEur,
          active: o.active ?? true
        })
      } RETURNING id, customer_id, name, keywords, cpv_codes, regions, min_value_eur, active`
    ))
  })

/** A tender. */
export const tender = <E>(ctx: Context<E>) =>
(
  overrides?: Rows.TenderOverrides
): Effect.Effect<Rows.Tender, E, Scope.Scope> =>
  Effect.gen(function*() {
    const { sql } = ctx
    const o = yield* decodeOverrides(ctx, Rows.TenderOverrides, "tenders", overrides)
    const [key] = ctx.nextKeys(1)
    return yield* one(scoped(
      ctx,
      "tenders",
      Rows.Tender,
      sql`INSERT INTO tenders ${
        sql.insert({
          external_id: key!,
          title: o.title ?? `Resurfacing of the B 13 between Freising and Moosburg (${key})`,
          description: o.description ??
            "Milling and asphalt resurfacing of 4.2 km of federal road, including road markings.",
          buyer: o.buyer ?? "Staatliches Bauamt Freising",
          cpv_codes: o.cpvCodes ?? ["45233142", "45233221"],
          region: o.region === undefined ? "DE21" : o.region,
          value_eur: o.valueEur === undefined ? 1850000 : o.valueEur,
          published_at: o.publishedAt ?? new Date("2026-02-02T08:00:00Z"),
          deadline_at: o.deadlineAt === undefined ? new Date("2026-03-06T12:00:00Z") : o.deadlineAt
        })
      } RETURNING id, external_id, title, description, buyer, cpv_codes, region, value_eur,
        published_at, deadline_at`
    ))
  })

/** A match of a tender to a profile. */
export const match = <E>(ctx: Context<E>) =>
(
  alertProfile: Pick<Rows.AlertProfile, "id">,
  tender: Pick<Rows.Tender, "id">,
  overrides?: Rows.MatchOverrides
): Effect.Effect<Rows.TenderMatch, E, Scope.Scope> =>
  Effect.gen(function*() {
    const { sql } = ctx
    const o = yield* decodeOverrides(ctx, Rows.MatchOverrides, "tender_matches", overrides)
    return yield* one(scoped(
      ctx,
      "tender_matches",
      Rows.TenderMatch,
      sql`INSERT INTO tender_matches ${
        sql.insert({
          alert_profile_id: alertProfile.id,
          tender_id: tender.id,
          score: o.score ?? 0.87,
          summary: o.summary === undefined
            ? "Road resurfacing, 4.2 km, about EUR 1.85m; bids due 6 March."
            : o.summary
        })
      } RETURNING id, alert_profile_id, tender_id, score, summary`
    ))
  })

/** A notification to the customer, optionally about a match. */
export const notification = <E>(ctx: Context<E>) =>
(
  customer: Pick<Rows.Customer, "id">,
  options?: Rows.NotificationOverrides & { readonly match?: Pick<Rows.TenderMatch, "id"> | undefined }
): Effect.Effect<Rows.Notification, E, Scope.Scope> =>
  Effect.gen(function*() {
    const { sql } = ctx
    const { match, ...rest } = options ?? {}
    const o = yield* decodeOverrides(ctx, Rows.NotificationOverrides, "notifications", rest)
    const [key] = ctx.nextKeys(1)
    return yield* one(scoped(
      ctx,
      "notifications",
      Rows.Notification,
      sql`INSERT INTO notifications ${
        sql.insert({
          customer_id: customer.id,
          tender_match_id: match?.id ?? null,
          channel: o.channel ?? "email",
          subject: o.subject ?? `New tender matching your alert (${key})`,
          body: o.body ?? "A new tender matches your alert profile. Bids are due on 6 March.",
          status: o.status ?? "pending"
        })
      } RETURNING id, customer_id, tender_match_id, channel, subject, body, status`
    ))
  })
