/**
 * The SQL behind the leak check: which rows of which tables were written after a point in the database's
 * history, and how to delete them children first. "Written after" is read from each row's `xmin` (the
 * transaction that wrote it) against a baseline transaction ID taken right after the reset, so it needs
 * no key, no trigger and no cooperation from the code that wrote the rows.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"

/** Rows per table (`schema.table` as the server quotes it). */
export type Rows = Record<string, number>

// `xmin` is a 32-bit transaction ID; the baseline a 64-bit one. A row was written after the baseline when
// its xmin is at most `span` transactions past the baseline's low 32 bits (modular, as PostgreSQL itself
// compares xids); `span` is computed in the same statement, from the snapshot the statement reads with.
/** The condition "this row was written after the baseline `base`" (a SQL expression or `$n` parameter). */
export const writtenSince = (base: string): string =>
  `((xmin::text::bigint - ${base}::bigint % 4294967296) % 4294967296 + 4294967296) % 4294967296 ` +
  `< (pg_snapshot_xmax(pg_current_snapshot())::text::bigint - ${base}::bigint)`

// the same test inside `format()` for query_to_xml: `%%` is a literal %, `%s` the baseline
const countWritten = `'SELECT count(*) AS n FROM %I.%I WHERE ` +
  `((xmin::text::bigint - %s::bigint %% 4294967296) %% 4294967296 + 4294967296) %% 4294967296 ` +
  `< (pg_snapshot_xmax(pg_current_snapshot())::text::bigint - %s::bigint)'`

/** The first transaction ID not yet assigned: every row written from now on has an xmin at or past it. */
export const currentXid = (sql: SqlClient.SqlClient): Effect.Effect<string, SqlError> =>
  Effect.map(
    sql<{ xid: string }>`SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS xid`,
    (rows) => rows[0]?.xid ?? "0"
  )

const userTables = `FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND c.relpersistence <> 't'
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`

// rows written after the baseline, per table, in one statement (tables without any left out)
const countWrittenRows = (sql: SqlClient.SqlClient, base: string): Effect.Effect<Rows, SqlError> =>
  sql.unsafe<{ name: string; rows: string }>(
    `SELECT name, rows FROM (
      SELECT format('%I.%I', n.nspname, c.relname) AS name,
        (xpath('/row/n/text()', query_to_xml(format(${countWritten}, n.nspname, c.relname, $1::bigint, $1::bigint),
          false, true, '')))[1]::text::bigint AS rows
      ${userTables}) t WHERE rows > 0 ORDER BY name`,
    [base]
  ).pipe(Effect.map((rows) => Object.fromEntries(rows.map((r) => [r.name, Number(r.rows)]))))

/**
 * Rows written after the baseline, per table (tables without any are left out), in a repeatable-read
 * transaction so every table is counted against the same snapshot.
 */
export const written = (sql: SqlClient.SqlClient, base: string): Effect.Effect<Rows, SqlError> =>
  sql.withTransaction(Effect.zipRight(
    // the count reads only catalogs and schema-qualified tables (no trigger runs): no function a database
    // holds (`public.format`, found first through a DSN's search_path) may answer for the system's
    sql.unsafe("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET LOCAL search_path = pg_catalog"),
    countWrittenRows(sql, base)
  ))

/** Foreign keys between the given tables: `[child, parent]` pairs (self-references left out). */
const references = (sql: SqlClient.SqlClient, tables: ReadonlyArray<string>) =>
  sql<{ child: string; parent: string }>`SELECT DISTINCT
      format('%I.%I', cn.nspname, cc.relname) AS child, format('%I.%I', pn.nspname, pc.relname) AS parent
    FROM pg_constraint k
      JOIN pg_class cc ON cc.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
      JOIN pg_class pc ON pc.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
    WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`.pipe(
    Effect.map((rows) => rows.filter((r) => tables.includes(r.child) && tables.includes(r.parent)))
  )

/** Children before the rows they reference; tables in a reference cycle keep their order at the end. */
export const childrenFirst = (
  tables: ReadonlyArray<string>,
  edges: ReadonlyArray<{ readonly child: string; readonly parent: string }>
): ReadonlyArray<string> => {
  const order: Array<string> = []
  const left = new Set(tables)
  for (;;) {
    // a table is next when no remaining table references it
    const next = [...left].filter((t) => !edges.some((e) => e.parent === t && left.has(e.child)))
    if (next.length === 0) return [...order, ...left]
    for (const t of next) {
      order.push(t)
      left.delete(t)
    }
  }
}

/** The single-column primary key of a table (quoted), if it has one. */
const primaryKey = (sql: SqlClient.SqlClient, table: string) =>
  Effect.map(
    sql<{ column: string }>`SELECT quote_ident(a.attname) AS column FROM pg_index i
      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = ${table}::regclass AND i.indisprimary AND i.indnatts = 1`,
    (rows) => rows[0]?.column
  )

/** Deletes one table's rows written after the baseline, except those whose primary key is in `keep`. */
const sweepTable = (sql: SqlClient.SqlClient, base: string, table: string, keep: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const key = keep.length === 0 ? undefined : yield* primaryKey(sql, table)
    const except = key === undefined ? "" : ` AND NOT (${key}::text = ANY($2::text[]))`
    // `table` and `key` are the server's own quoting of catalog names
    const [row] = yield* sql.unsafe<{ n: string }>(
      `WITH gone AS (DELETE FROM ${table} WHERE ${writtenSince("$1")}${except} RETURNING 1) SELECT count(*) AS n FROM gone`,
      key === undefined ? [base] : [base, keep]
    )
    return Number(row?.n ?? 0)
  })

/**
 * Deletes every row written after the baseline, children first, in one transaction; returns what went.
 * `keep` names rows to leave, per table, by primary key (tables with a single-column key). Nothing is
 * deleted unless the database still records `owner` as its run: another lane's reset replaces the whole
 * database (a new one records that lane's run, or none yet), and its rows are not this run's. A reset that
 * drops the database during the sweep ends this session, and the transaction with it.
 */
export const sweep = (
  sql: SqlClient.SqlClient,
  base: string,
  owner: { readonly setting: string; readonly value: string },
  keep: (table: string) => ReadonlyArray<string> = () => []
): Effect.Effect<Rows | "replaced", SqlError> =>
  sql.withTransaction(
    Effect.gen(function*() {
      const [row] = yield* sql<{ run: string | null }>`SELECT pg_catalog.current_setting(${owner.setting}, true) AS run`
      if (row?.run !== owner.value) return "replaced" as const
      const tables = Object.keys(yield* countWrittenRows(sql, base))
      const order = childrenFirst(tables, yield* references(sql, tables))
      const deleted: Rows = {}
      for (const table of order) deleted[table] = yield* sweepTable(sql, base, table, keep(table))
      return deleted
    })
  )
