/**
 * The fixtures' cleanup, sweep and leak-count statements. Every one is set-based (ids passed as one
 * array parameter, or one prefix), so the number of statements depends on the kind of record, never
 * on how many rows there are. Order is the one the foreign keys allow: children before parents.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/** The tables the fixtures write, in the order rows must be deleted. */
export const tables = ["notifications", "tender_matches", "alert_profiles", "tenders", "customers"] as const

/** One of the fixtures' tables. */
export type Table = typeof tables[number]

/** What a release removes: the created rows of one kind, and everything that references them. */
export type Root = "customers" | "alert_profiles" | "tenders" | "tender_matches" | "notifications"

/** Rows deleted per table by one cleanup. */
export type Deleted = Partial<Record<Table, number>>

type Statement = readonly [Table, (sql: SqlClient.SqlClient, ids: ReadonlyArray<string>) => Effect.Effect<unknown, SqlError>]

const count = (result: unknown): number =>
  Array.isArray(result) ? result.length : 0

// RETURNING 1 gives the count without a second query; rows are one int each, cheap even for 10,000.
const statements: Record<Root, ReadonlyArray<Statement>> = {
  customers: [
    ["notifications", (sql, ids) =>
      sql`DELETE FROM notifications WHERE customer_id = ANY(${ids}::bigint[]) OR tender_match_id IN (
        SELECT m.id FROM tender_matches m JOIN alert_profiles p ON p.id = m.alert_profile_id
        WHERE p.customer_id = ANY(${ids}::bigint[])) RETURNING 1`],
    ["tender_matches", (sql, ids) =>
      sql`DELETE FROM tender_matches WHERE alert_profile_id IN (
        SELECT id FROM alert_profiles WHERE customer_id = ANY(${ids}::bigint[])) RETURNING 1`],
    ["alert_profiles", (sql, ids) => sql`DELETE FROM alert_profiles WHERE customer_id = ANY(${ids}::bigint[]) RETURNING 1`],
    ["customers", (sql, ids) => sql`DELETE FROM customers WHERE id = ANY(${ids}::bigint[]) RETURNING 1`]
  ],
  alert_profiles: [
    ["notifications", (sql, ids) =>
      sql`DELETE FROM notifications WHERE tender_match_id IN (
        SELECT id FROM tender_matches WHERE alert_profile_id = ANY(${ids}::bigint[])) RETURNING 1`],
    ["tender_matches", (sql, ids) =>
      sql`DELETE FROM tender_matches WHERE alert_profile_id = ANY(${ids}::bigint[]) RETURNING 1`],
    ["alert_profiles", (sql, ids) => sql`DELETE FROM alert_profiles WHERE id = ANY(${ids}::bigint[]) RETURNING 1`]
  ],
  tenders: [
    ["notifications", (sql, ids) =>
      sql`DELETE FROM notifications WHERE tender_match_id IN (
        SELECT id FROM tender_matches WHERE tender_id = ANY(${ids}::bigint[])) RETURNING 1`],
    ["tender_matches", (sql, ids) => sql`DELETE FROM tender_matches WHERE tender_id = ANY(${ids}::bigint[]) RETURNING 1`],
    ["tenders", (sql, ids) => sql`DELETE FROM tenders WHERE id = ANY(${ids}::bigint[]) RETURNING 1`]
  ],
  tender_matches: [
    ["notifications", (sql, ids) =>
      sql`DELETE FROM notifications WHERE tender_match_id = ANY(${ids}::bigint[]) RETURNING 1`],
    ["tender_matches", (sql, ids) => sql`DELETE FROM tender_matches WHERE id = ANY(${ids}::bigint[]) RETURNING 1`]
  ],
  notifications: [
    ["notifications", (sql, ids) => sql`DELETE FROM notifications WHERE id = ANY(${ids}::bigint[]) RETURNING 1`]
  ]
}

/** How many statements a cleanup of `root` runs, whatever the number of ids. */
export const statementCount = (root: Root): number => statements[root].length

/** Deletes the `root` rows with these ids and every row that references them, in one transaction. */
export const cleanup = (
  sql: SqlClient.SqlClient,
  root: Root,
  ids: ReadonlyArray<string>
): Effect.Effect<Deleted, SqlError> =>
  ids.length === 0
    ? Effect.succeed({})
    : sql.withTransaction(
      Effect.reduce(statements[root], {} as Deleted, (deleted, [table, run]) =>
        Effect.map(run(sql, ids), (result) => ({ ...deleted, [table]: (deleted[table] ?? 0) + count(result) })))
    )

// The identities of a run: customers and tenders carry the key in external_id; profiles, matches
// and notifications are the run's through the rows they reference. `starts_with`, not LIKE: a run ID
// may contain `_`, a LIKE wildcard.
const runCustomers = (sql: SqlClient.SqlClient, prefix: string) =>
  sql`SELECT id FROM customers WHERE starts_with(external_id, ${prefix})`
const runTenders = (sql: SqlClient.SqlClient, prefix: string) =>
  sql`SELECT id FROM tenders WHERE starts_with(external_id, ${prefix})`
const runProfiles = (sql: SqlClient.SqlClient, prefix: string) =>
  sql`SELECT id FROM alert_profiles WHERE customer_id IN (${runCustomers(sql, prefix)})`
const runMatches = (sql: SqlClient.SqlClient, prefix: string) =>
  sql`SELECT id FROM tender_matches WHERE alert_profile_id IN (${runProfiles(sql, prefix)})
    OR tender_id IN (${runTenders(sql, prefix)})`
const runNotifications = (sql: SqlClient.SqlClient, prefix: string) =>
  sql`SELECT id FROM notifications WHERE customer_id IN (${runCustomers(sql, prefix)})
    OR tender_match_id IN (${runMatches(sql, prefix)})`

const selectors: Record<Table, (sql: SqlClient.SqlClient, prefix: string) => ReturnType<SqlClient.SqlClient["unsafe"]>> = {
  notifications: runNotifications,
  tender_matches: runMatches,
  alert_profiles: runProfiles,
  tenders: runTenders,
  customers: runCustomers
}

/** The sweep runs one statement per table, whatever the number of rows. */
export const sweepStatementCount: number = tables.length

/** Deletes every row of the run with this key prefix, in FK order, in one transaction. */
export const sweep = (sql: SqlClient.SqlClient, prefix: string): Effect.Effect<Deleted, SqlError> =>
  sql.withTransaction(
    Effect.reduce(tables, {} as Deleted, (deleted, table) =>
      Effect.map(
        sql`DELETE FROM ${sql(table)} WHERE id IN (${selectors[table](sql, prefix)}) RETURNING 1`,
        (result) => ({ ...deleted, [table]: count(result) })
      ))
  )

/** Rows of the run still present, per table, in one query. */
export const leaks = (sql: SqlClient.SqlClient, prefix: string): Effect.Effect<Record<Table, number>, SqlError> =>
  Effect.map(
    sql<Record<Table, string>>`SELECT
      (SELECT count(*) FROM (${runNotifications(sql, prefix)}) x) AS notifications,
      (SELECT count(*) FROM (${runMatches(sql, prefix)}) x) AS tender_matches,
      (SELECT count(*) FROM (${runProfiles(sql, prefix)}) x) AS alert_profiles,
      (SELECT count(*) FROM (${runTenders(sql, prefix)}) x) AS tenders,
      (SELECT count(*) FROM (${runCustomers(sql, prefix)}) x) AS customers`,
    (rows) => {
      const row = rows[0]
      // count(*) comes back as a string
      return Object.fromEntries(tables.map((t) => [t, Number(row?.[t] ?? 0)])) as Record<Table, number>
    }
  )
