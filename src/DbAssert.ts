/**
 * Typed database assertions for the live suites: the rows a workflow wrote for one customer, read
 * through the lane's connection and decoded with Schema, compared as a set ("exactly these rows").
 * A failure shows the rows that are actually there, so the first look at a red test says what the
 * workflow did instead.
 */
import { SqlClient } from "@effect/sql"
import { Data, Effect, ParseResult, Schema } from "effect"

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
/** An alert profile of the customer, as asserted. */
export type AlertProfileRow = typeof AlertProfileRow.Type

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

/** The tables an assertion can look at, and the row each one decodes to. */
export interface Rows {
  readonly alert_profiles: AlertProfileRow
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
  /** The expected rows (only the fields the test named). */
  readonly expected: ReadonlyArray<object>
  /** The rows actually there, all fields. */
  readonly actual: ReadonlyArray<object>
  readonly detail: string
}> {
  override get message(): string {
    switch (this.reason) {
      case "rows-differ":
        return [
          `${this.table} of customer ${this.customerId}: expected exactly ${this.expected.length} row(s), ` +
          `found ${this.actual.length} (rows-differ). ${this.detail}`,
          `  Expected (fields compared):`,
          ...render(this.expected),
          `  Actual:`,
          ...render(this.actual),
          `  Fix: if the workflow is right, update the expectation; the comparison ignores order and the ` +
          `fields the expectation leaves out.`
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

const show = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (v instanceof Date ? v.toISOString() : v))

const render = (rows: ReadonlyArray<object>): ReadonlyArray<string> =>
  rows.length === 0 ? ["    (none)"] : rows.map((row) => `    ${show(row)}`)

const queries = {
  alert_profiles: (sql: SqlClient.SqlClient, customerId: number) =>
    sql`SELECT id, name, keywords, cpv_codes AS "cpvCodes", regions, min_value_eur AS "minValueEur", active
      FROM alert_profiles WHERE customer_id = ${customerId} ORDER BY id`,
  tender_matches: (sql: SqlClient.SqlClient, customerId: number) =>
    sql`SELECT m.id, p.name AS "alertProfileName", t.external_id AS "tenderExternalId",
        t.title AS "tenderTitle", m.score, m.summary
      FROM tender_matches m
      JOIN alert_profiles p ON p.id = m.alert_profile_id
      JOIN tenders t ON t.id = m.tender_id
      WHERE p.customer_id = ${customerId} ORDER BY m.id`,
  notifications: (sql: SqlClient.SqlClient, customerId: number) =>
    sql`SELECT n.id, n.channel, n.subject, n.body, n.status, t.external_id AS "tenderExternalId"
      FROM notifications n
      LEFT JOIN tender_matches m ON m.id = n.tender_match_id
      LEFT JOIN tenders t ON t.id = m.tender_id
      WHERE n.customer_id = ${customerId} ORDER BY n.id`
}

const schemas = { alert_profiles: AlertProfileRow, tender_matches: MatchRow, notifications: NotificationRow }

/** The customer's rows of a table, decoded. */
export const rowsOf = <T extends Table>(
  table: T,
  customer: { readonly id: number }
): Effect.Effect<ReadonlyArray<Rows[T]>, DbAssertError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const fail = (reason: DbAssertReason, detail: string, actual: ReadonlyArray<object> = []) =>
      new DbAssertError({ reason, table, customerId: customer.id, expected: [], actual, detail })
    const raw = yield* queries[table](sql, customer.id).pipe(
      Effect.mapError((e) => fail("query-failed", e.cause instanceof Error ? e.cause.message : e.message))
    )
    const schema = schemas[table] as unknown as Schema.Schema<Rows[T], unknown>
    return yield* Schema.decodeUnknown(Schema.Array(schema))(raw).pipe(
      Effect.mapError((e) => fail("decode-failed", ParseResult.TreeFormatter.formatErrorSync(e), raw))
    )
  })

const project = (row: object, keys: ReadonlyArray<string>): string =>
  show(Object.fromEntries(keys.map((k) => [k, (row as Record<string, unknown>)[k]])))

/**
 * Asserts that the customer has exactly these rows in `table`: same count, and each expected row
 * matches a distinct actual row on the fields it names (order ignored). Returns the actual rows.
 */
export const exactly = <T extends Table>(
  table: T,
  customer: { readonly id: number },
  expected: ReadonlyArray<Partial<Rows[T]>>
): Effect.Effect<ReadonlyArray<Rows[T]>, DbAssertError, SqlClient.SqlClient> =>
  Effect.flatMap(rowsOf(table, customer), (actual) => {
    const unmatched = [...actual]
    const missing: Array<object> = []
    for (const want of expected) {
      const keys = Object.keys(want)
      const i = unmatched.findIndex((row) => project(row, keys) === project(want, keys))
      if (i === -1) missing.push(want)
      else unmatched.splice(i, 1)
    }
    if (missing.length === 0 && unmatched.length === 0) return Effect.succeed(actual)
    const detail = [
      missing.length === 0 ? "" : `Not found: ${missing.map(show).join(", ")}.`,
      unmatched.length === 0 ? "" : `Unexpected: ${unmatched.length} row(s).`
    ].filter((s) => s !== "").join(" ")
    return Effect.fail(
      new DbAssertError({ reason: "rows-differ", table, customerId: customer.id, expected, actual, detail })
    )
  })
