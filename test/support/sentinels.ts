/**
 * The databases no lane may ever touch, `tenderbot` and `tenderbot_test`, with sentinel rows, and a
 * fingerprint that changes if anything about them changes (catalog row, tables, files, contents).
 */
import { createHash } from "node:crypto"
import pg from "pg"
import * as TestDatabase from "./testDatabase.js"

/** The databases every destructive test proves untouched. */
export const sentinelDatabases: ReadonlyArray<string> = ["tenderbot", "tenderbot_test"]

/** A DSN on the test server for `database`. */
export const dsnFor = (database: string): string => TestDatabase.url(database)

/** Runs `f` with a client on `database`, always closing it. */
export const withClient = async <A>(
  database: string,
  f: (client: pg.Client) => Promise<A>,
  applicationName = "workflow-live test"
): Promise<A> => {
  const client = new pg.Client(TestDatabase.connection(database, applicationName))
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end()
  }
}

// Test files run in parallel; this session lock serializes the creation across processes.
const sentinelLock = 0x574c534e

/** Creates the sentinel databases if missing (with sentinel rows); an existing one is never written to. */
export const ensureSentinels = (): Promise<void> =>
  withClient("postgres", async (admin) => {
    await admin.query("SELECT pg_advisory_lock($1)", [sentinelLock])
    try {
      for (const name of sentinelDatabases) {
        const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])
        if (exists.rowCount !== 0) continue
        await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`)
        await withClient(name, async (client) => {
          await client.query(`CREATE TABLE sentinel (id int PRIMARY KEY, note text NOT NULL)`)
          await client.query(
            `INSERT INTO sentinel VALUES (1, 'created by workflow-live tests'), (2, $1)`,
            [`${name} must never be dropped or written by a lane`]
          )
        })
      }
    } finally {
      await admin.query("SELECT pg_advisory_unlock($1)", [sentinelLock])
    }
  })

/** A digest of everything observable about one database: catalog row, comment, relations, rows. */
const fingerprintOne = async (admin: pg.Client, name: string): Promise<string> => {
  const row = await admin.query(
    `SELECT oid, datname, datdba, encoding, datcollate, datctype, datistemplate, datallowconn, datconnlimit,
        dattablespace, datacl::text AS acl, shobj_description(oid, 'pg_database') AS comment
      FROM pg_database WHERE datname = $1`,
    [name]
  )
  if (row.rowCount === 0) return "absent"
  const digest = createHash("sha256").update(JSON.stringify(row.rows[0]))
  await withClient(name, async (client) => {
    const relations = await client.query<{ oid: number; relfilenode: number; kind: string; name: string }>(
      `SELECT c.oid, c.relfilenode, c.relkind AS kind, format('%I.%I', n.nspname, c.relname) AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        ORDER BY 4`
    )
    digest.update(JSON.stringify(relations.rows))
    for (const relation of relations.rows.filter((r) => r.kind === "r")) {
      const contents = await client.query<{ rows: string | null }>(
        `SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS rows FROM ${relation.name} t`
      )
      digest.update(`${relation.name}=${contents.rows[0]?.rows ?? "empty"}`)
    }
  }, "workflow-live fingerprint")
  return digest.digest("hex")
}

/** Fingerprints of the sentinel databases, by name. Equal fingerprints mean untouched. */
export const fingerprint = (): Promise<Record<string, string>> =>
  withClient("postgres", async (admin) => {
    const result: Record<string, string> = {}
    for (const name of sentinelDatabases) result[name] = await fingerprintOne(admin, name)
    return result
  }, "workflow-live fingerprint")

/** Drops databases this test file created: only exact names or `<prefix>` matches that the caller owns. */
export const dropDatabases = (names: ReadonlyArray<string>, templatePrefixes: ReadonlyArray<string> = []): Promise<void> =>
  withClient("postgres", async (admin) => {
    // a `<db>__tpl_` prefix stands for the reset's whole family of `<db>`: templates, spares, retired
    const prefixes = templatePrefixes.flatMap((p) =>
      p.endsWith("__tpl_") ? [p, p.replace(/__tpl_$/, "__spare_"), p.replace(/__tpl_$/, "__old_")] : [p]
    )
    const templates = prefixes.length === 0 ? [] : (await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database d WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) p WHERE starts_with(d.datname, p))",
      [prefixes]
    )).rows.map((r) => r.datname)
    for (const name of [...names, ...templates]) {
      if (sentinelDatabases.includes(name) || ["postgres", "template0", "template1"].includes(name)) {
        throw new Error(`refusing to drop ${name}`)
      }
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`)
    }
  })
