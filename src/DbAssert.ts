/**
 * Typed database assertions for the live suites: the rows a workflow wrote for one customer, read
 * through the lane's connection and decoded with Schema, compared as a set ("exactly these rows").
 * A failure names the rows and fields that differ, shows only the compared fields, expected next to
 * actual, and points at the test's own line: the first look at a red test says what the workflow did.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Data, Effect, ParseResult, Schema } from "effect"
import * as CallSite from "./internal/callSite.js"
import * as RowDiff from "./internal/rowDiff.js"

/** The customer itself. */
export const CustomerRow = Schema.Struct({
  id: Schema.NumberFromString,
  externalId: Schema.String,
  name: Schema.String,
  email: Schema.String
})
/** The customer itself, as asserted. */
export type CustomerRow = typeof CustomerRow.Type

/** An alert profile of the customer, as asserted. */
export const AlertProfileRow = Schema.Struct({
  id: Schema.NumberFromString,
  name: Schema.String,
  keywords: Schema.Array(Schema.String),
  cpvCodes: Schema.Array(Schema.String),
  regions: Schema.Array(Schema.String),
  minValueEur: Schema.NullOr(Schema.NumberFromString),
  active: Schema.Boolean
})
/** An alert profile of the customer. */
export type AlertProfileRow = typeof AlertProfileRow.Type

/** A tender matched to one of the customer's profiles. */
export const TenderRow = Schema.Struct({
  id: Schema.NumberFromString,
  externalId: Schema.String,
  title: Schema.String,
  buyer: Schema.String,
  cpvCodes: Schema.Array(Schema.String),
  region: Schema.NullOr(Schema.String),
  valueEur: Schema.NullOr(Schema.NumberFromString),
  publishedAt: Schema.DateFromSelf
})
/** A tender matched to the customer. */
export type TenderRow = typeof TenderRow.Type

/** A match of one of the customer's profiles, with the tender's external id and title joined in. */
export const MatchRow = Schema.Struct({
  id: Schema.NumberFromString,
  alertProfileName: Schema.String,
  tenderExternalId: Schema.String,
  tenderTitle: Schema.String,
  score: Schema.NumberFromString,
  summary: Schema.NullOr(Schema.String)
})
/** A match of one of the customer's profiles. */
export type MatchRow = typeof MatchRow.Type

/** A notification to the customer, with the matched tender's external id (null when about no match). */
export const NotificationRow = Schema.Struct({
  id: Schema.NumberFromString,
  channel: Schema.Literal("email", "webhook"),
  subject: Schema.String,
  body: Schema.String,
  status: Schema.Literal("pending", "sent", "failed"),
  tenderExternalId: Schema.NullOr(Schema.String)
})
/** A notification to the customer. */
export type NotificationRow = typeof NotificationRow.Type

/** The tables an assertion can look at (every table the fixtures write), and the row each decodes to. */
export interface Rows {
  readonly customers: CustomerRow
  readonly alert_profiles: AlertProfileRow
  readonly tenders: TenderRow
  readonly tender_matches: MatchRow
  readonly notifications: NotificationRow
}

/** A table an assertion can look at. */
export type Table = keyof Rows

/** Why an assertion failed. */
export type DbAssertReason = "rows-differ" | "query-failed" | "decode-failed"

/** Every reason, for docs and tests. */
export const reasons: ReadonlyArray<DbAssertReason> = ["rows-differ", "query-failed", "decode-failed"]

/** The rows in the database are not the expected ones (or could not be read). */
export class DbAssertError extends Data.TaggedError("DbAssertError")<{
  readonly reason: DbAssertReason
  readonly table: Table
  readonly customerId: number
  /** The expected rows (only the fields the test named); Vitest diffs them against `actual`. */
  readonly expected: ReadonlyArray<object>
  /** The actual rows cut to the compared fields, each next to the expected row it was compared with. */
  readonly actual: ReadonlyArray<object>
  /** The rows actually there, all fields. */
  readonly rows: ReadonlyArray<object>
  /** For `rows-differ`: the headline and the side-by-side rows; otherwise the driver's or Schema's words. */
  readonly detail: string
}> {
  override get message(): string {
    switch (this.reason) {
      case "rows-differ":
        return [
          this.detail,
          `  Fix: if the workflow is right, update the expectation; the comparison ignores row order and every ` +
          `field the expectation leaves out.`
        ].join("\n")
      case "query-failed":
        return [
          `Could not read ${this.table} of customer ${this.customerId} (query-failed).`,
          `  Driver: ${this.detail}`,
          `  Fix:    check that the workflow database is reachable and migrated (\`workflow-live reset\`).`
        ].join("\n")
      case "decode-failed":
        return [
          `${this.table} of customer ${this.customerId} holds a row the assertion cannot decode (decode-failed).`,
          `  Detail: ${this.detail}`,
          `  Fix:    the schema changed under the assertion: update the row Schema in src/DbAssert.ts with the ` +
          `migration.`
        ].join("\n")
    }
  }
}

const queries: { readonly [T in Table]: (sql: SqlClient.SqlClient, customerId: number) => Effect.Effect<ReadonlyArray<object>, unknown> } = {
  customers: (sql, customerId) =>
    sql`SELECT id, external_id AS "externalId", name, email FROM customers WHERE id = ${customerId}`,
  alert_profiles: (sql, customerId) =>
    sql`SELECT id, name, keywords, cpv_codes AS "cpvCodes", regions, min_value_eur AS "minValueEur", active
      FROM alert_profiles WHERE customer_id = ${customerId} ORDER BY id`,
  tenders: (sql, customerId) =>
    sql`SELECT t.id, t.external_id AS "externalId", t.title, t.buyer, t.cpv_codes AS "cpvCodes", t.region,
        t.value_eur AS "valueEur", t.published_at AS "publishedAt"
      FROM tenders t
      WHERE t.id IN (SELECT m.tender_id FROM tender_matches m JOIN alert_profiles p ON p.id = m.alert_profile_id
        WHERE p.customer_id = ${customerId})
      ORDER BY t.id`,
  tender_matches: (sql, customerId) =>
    sql`SELECT m.id, p.name AS "alertProfileName", t.external_id AS "tenderExternalId",
        t.title AS "tenderTitle", m.score, m.summary
      FROM tender_matches m
      JOIN alert_profiles p ON p.id = m.alert_profile_id
      JOIN tenders t ON t.id = m.tender_id
      WHERE p.customer_id = ${customerId} ORDER BY m.id`,
  notifications: (sql, customerId) =>
    sql`SELECT n.id, n.channel, n.subject, n.body, n.status, t.external_id AS "tenderExternalId"
      FROM notifications n
      LEFT JOIN tender_matches m ON m.id = n.tender_match_id
      LEFT JOIN tenders t ON t.id = m.tender_id
      WHERE n.customer_id = ${customerId} ORDER BY n.id`
}

const schemas = {
  customers: CustomerRow,
  alert_profiles: AlertProfileRow,
  tenders: TenderRow,
  tender_matches: MatchRow,
  notifications: NotificationRow
}

// the field that tells a row apart when the test compared none (`exactly(table, customer, [])`)
const labels: { readonly [T in Table]: string } = {
  customers: "externalId",
  alert_profiles: "name",
  tenders: "externalId",
  tender_matches: "tenderExternalId",
  notifications: "subject"
}

const read = <T extends Table>(
  table: T,
  customer: { readonly id: number }
): Effect.Effect<ReadonlyArray<Rows[T]>, DbAssertError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const fail = (reason: DbAssertReason, detail: string, rows: ReadonlyArray<object> = []) =>
      new DbAssertError({ reason, table, customerId: customer.id, expected: [], actual: [], rows, detail })
    const raw = yield* queries[table](sql, customer.id).pipe(
      Effect.mapError((e) => {
        const cause = (e as { cause?: unknown }).cause
        return fail("query-failed", cause instanceof Error ? cause.message : String((e as Error).message ?? e))
      })
    )
    const schema = schemas[table] as unknown as Schema.Schema<Rows[T], unknown>
    return yield* Schema.decodeUnknown(Schema.Array(schema))(raw).pipe(
      Effect.mapError((e) => fail("decode-failed", ParseResult.TreeFormatter.formatErrorSync(e), raw))
    )
  })

// a failure's stack becomes the test's own frames, captured when the assertion was created
const atCallSite = <A, R>(effect: Effect.Effect<A, DbAssertError, R>, site: Error) =>
  Effect.mapError(effect, (error) => CallSite.attach(error, site))

/** The customer's rows of a table, decoded. */
export const rowsOf = <T extends Table>(
  table: T,
  customer: { readonly id: number }
): Effect.Effect<ReadonlyArray<Rows[T]>, DbAssertError, SqlClient.SqlClient> =>
  atCallSite(read(table, customer), CallSite.capture())

/**
 * Asserts that the customer has exactly these rows in `table`: same count, and each expected row
 * matches a distinct actual row on the fields it names (order ignored). Returns the actual rows.
 */
export const exactly = <T extends Table>(
  table: T,
  customer: { readonly id: number },
  expected: ReadonlyArray<Partial<Rows[T]>>
): Effect.Effect<ReadonlyArray<Rows[T]>, DbAssertError, SqlClient.SqlClient> =>
  atCallSite(
    Effect.flatMap(read(table, customer), (actual) => {
      const wanted = expected as ReadonlyArray<RowDiff.Row>
      const comparison = RowDiff.compare(wanted, actual as ReadonlyArray<RowDiff.Row>)
      if (RowDiff.passed(comparison)) return Effect.succeed(actual)
      const shown = RowDiff.shownFields(wanted, labels[table])
      const detail = [
        `${RowDiff.headline(table, comparison)} (customer ${customer.id}: expected ` +
        `${expected.length} row${expected.length === 1 ? "" : "s"}, found ${actual.length})`,
        ...RowDiff.details(comparison, shown)
      ].join("\n")
      const { actual: compared } = RowDiff.sides(comparison, shown)
      return Effect.fail(
        new DbAssertError({ reason: "rows-differ", table, customerId: customer.id, expected, actual: compared, rows: actual, detail })
      )
    }),
    CallSite.capture()
  )
