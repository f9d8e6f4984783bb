/**
 * What a database holds that somebody made: every object in its catalogs with an OID at or above
 * FirstNormalObjectId (16384). Everything initdb creates (system catalogs, information_schema, plpgsql,
 * the `public` schema) sits below it, so a database fresh from template0 holds nothing by this measure,
 * whatever role looks: it reads catalogs, not rows, so row-level security, revoked table privileges or a
 * large object nobody can read cannot hide anything.
 */

/** One object found: its kind (`table`, `large object`, ...) and its name. */
export interface Found {
  readonly kind: string
  readonly name: string
}

/** What the query returns: the first objects, and how many there are in all. */
export interface Inventory {
  readonly total: number
  readonly first: ReadonlyArray<Found>
}

// objects an extension installed are listed as the extension
const notInExtension = (catalog: string, alias: string): string =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${alias}.oid AND e.deptype = 'e')`

const notTemporary = (alias: string): string =>
  `${alias}.nspname !~ '^pg_(toast_)?temp_'`

// one row per catalog with user-creatable objects; `rank` orders the kinds a person cares about first
const sources: ReadonlyArray<string> = [
  `SELECT CASE WHEN c.relkind IN ('r', 'p') THEN 1 ELSE 2 END AS rank, CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
      WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table'
      WHEN 'c' THEN 'composite type' ELSE 'relation' END AS kind, format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid >= 16384 AND c.relkind NOT IN ('i', 'I', 't') AND ${notTemporary("n")} AND ${notInExtension("pg_class", "c")}`,
  `SELECT 3, 'large object', l.oid::text FROM pg_largeobject_metadata l`,
  `SELECT 4, 'schema', format('%I', n.nspname) FROM pg_namespace n
    WHERE n.oid >= 16384 AND ${notTemporary("n")} AND n.nspname !~ '^pg_toast' AND ${notInExtension("pg_namespace", "n")}`,
  `SELECT 5, 'extension', format('%I', x.extname) FROM pg_extension x WHERE x.oid >= 16384`,
  `SELECT 6, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
      format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE p.oid >= 16384 AND ${notInExtension("pg_proc", "p")}`,
  `SELECT 7, CASE t.typtype WHEN 'd' THEN 'domain' WHEN 'e' THEN 'enum type' WHEN 'r' THEN 'range type' ELSE 'type' END,
      format_type(t.oid, NULL)
    FROM pg_type t WHERE t.oid >= 16384 AND t.typrelid = 0 AND t.typtype IN ('b', 'd', 'e', 'r')
      AND t.typcategory <> 'A' AND ${notInExtension("pg_type", "t")}`,
  ...[
    ["pg_operator", "operator", "oprname"],
    ["pg_opclass", "operator class", "opcname"],
    ["pg_opfamily", "operator family", "opfname"],
    ["pg_collation", "collation", "collname"],
    ["pg_conversion", "conversion", "conname"],
    ["pg_cast", "cast", "oid::text"],
    ["pg_ts_config", "text search configuration", "cfgname"],
    ["pg_ts_dict", "text search dictionary", "dictname"],
    ["pg_ts_parser", "text search parser", "prsname"],
    ["pg_ts_template", "text search template", "tmplname"],
    ["pg_foreign_data_wrapper", "foreign-data wrapper", "fdwname"],
    ["pg_foreign_server", "foreign server", "srvname"],
    ["pg_event_trigger", "event trigger", "evtname"],
    ["pg_publication", "publication", "pubname"],
    ["pg_language", "language", "lanname"],
    ["pg_am", "access method", "amname"],
    ["pg_statistic_ext", "statistics object", "stxname"],
    ["pg_transform", "transform", "oid::text"],
    ["pg_default_acl", "default privileges", "oid::text"]
  ].map(([catalog, kind, name]) =>
    `SELECT 8, '${kind}', x.${name}::text FROM ${catalog} x WHERE x.oid >= 16384 AND ${notInExtension(catalog!, "x")}`
  ),
  `SELECT 9, 'subscription', s.subname::text FROM pg_subscription s
    WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())`
]

/** The inventory query: the first `limit` objects and the total count, in one statement. */
export const inventorySql = (limit: number): string =>
  `SELECT kind, name, count(*) OVER ()::int AS total FROM (${sources.join("\nUNION ALL\n")}) found
    ORDER BY rank, kind, name LIMIT ${Math.max(1, Math.floor(limit))}`

/** The query's rows as an {@link Inventory}. */
export const toInventory = (rows: ReadonlyArray<{ readonly kind: string; readonly name: string; readonly total: number }>): Inventory => ({
  total: rows[0]?.total ?? 0,
  first: rows.map((row) => ({ kind: row.kind, name: row.name }))
})

/** The inventory in words: `table public.a, large object 16401 and 3 more`. */
export const describeInventory = (inventory: Inventory): string => {
  const listed = inventory.first.map((found) => `${found.kind} ${found.name}`).join(", ")
  const more = inventory.total - inventory.first.length
  return more > 0 ? `${listed} and ${more} more` : listed
}
