/**
 * Which rows belong to a test, for keeping a failed test's rows in place. A test's rows are found from its
 * fixture keys (`wl-<run>-<testhash>-<seq>`, the external ids of customers and tenders): those rows, every row that hangs off
 * them (profiles, matches, notifications: what the fixtures and the workflow wrote for them), and the
 * run's own rows those reference (a workflow's tender a kept match points at), so the kept rows stay whole
 * and the sweep can delete everything else without a foreign-key error. Rows linked to no key of the test
 * cannot be told apart from another test's leak: they are not kept.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect } from "effect"
import { writtenSince } from "./writtenRows.js"

/** A test's rows: its fixture keys, and the primary keys of its rows per table (fixture tables only). */
export interface TestRows {
  readonly keys: ReadonlyArray<string>
  readonly rows: Readonly<Record<string, ReadonlyArray<string>>>
}

// profiles and notifications carry their key in their name or subject (`… (wl-<run>-<hash>-<seq>)`)
const keyPattern = `'wl-[a-z0-9_]+-[0-9a-f]{8}-[0-9]+'`

// $1: the test's key prefix, $2: the run's baseline xid
const query = `WITH
  c AS (SELECT id, external_id FROM customers WHERE starts_with(external_id, $1)),
  t AS (SELECT id, external_id FROM tenders WHERE starts_with(external_id, $1)),
  p AS (SELECT id FROM alert_profiles WHERE customer_id IN (SELECT id FROM c)),
  m AS (SELECT id FROM tender_matches WHERE alert_profile_id IN (SELECT id FROM p) OR tender_id IN (SELECT id FROM t)),
  n AS (SELECT id, customer_id, tender_match_id FROM notifications
    WHERE (customer_id IN (SELECT id FROM c) OR tender_match_id IN (SELECT id FROM m)) AND ${writtenSince("$2")}),
  mm AS (SELECT id, alert_profile_id, tender_id FROM tender_matches
    WHERE (id IN (SELECT id FROM m) OR id IN (SELECT tender_match_id FROM n)) AND ${writtenSince("$2")}),
  pp AS (SELECT id, customer_id FROM alert_profiles
    WHERE (id IN (SELECT id FROM p) OR id IN (SELECT alert_profile_id FROM mm)) AND ${writtenSince("$2")}),
  tt AS (SELECT id FROM tenders WHERE (id IN (SELECT id FROM t) OR id IN (SELECT tender_id FROM mm)) AND ${writtenSince("$2")}),
  cc AS (SELECT id FROM customers
    WHERE (id IN (SELECT id FROM c) OR id IN (SELECT customer_id FROM pp) OR id IN (SELECT customer_id FROM n))
      AND ${writtenSince("$2")})
SELECT 'key' AS kind, external_id AS value FROM c
UNION ALL SELECT 'key', external_id FROM t
UNION ALL SELECT 'key', k FROM (
  SELECT substring(name from ${keyPattern}) AS k FROM alert_profiles WHERE id IN (SELECT id FROM pp)
  UNION ALL SELECT substring(subject from ${keyPattern}) FROM notifications WHERE id IN (SELECT id FROM n)) named
  WHERE starts_with(k, $1)
UNION ALL SELECT 'customers', id::text FROM cc
UNION ALL SELECT 'alert_profiles', id::text FROM pp
UNION ALL SELECT 'tenders', id::text FROM tt
UNION ALL SELECT 'tender_matches', id::text FROM mm
UNION ALL SELECT 'notifications', id::text FROM n`

const tableOrder = ["customers", "alert_profiles", "tenders", "tender_matches", "notifications"]

/** The rows of the test whose keys start with `prefix`, written after the baseline `base`. */
export const ofTest = (sql: SqlClient.SqlClient, prefix: string, base: string): Effect.Effect<TestRows, SqlError> =>
  Effect.map(sql.unsafe<{ kind: string; value: string }>(query, [prefix, base]), (found) => {
    const ids = (table: string) => found.filter((r) => r.kind === table).map((r) => r.value).sort((a, b) => Number(a) - Number(b))
    const seq = (key: string) => Number(key.slice(key.lastIndexOf("-") + 1))
    const keys = [...new Set(found.filter((r) => r.kind === "key").map((r) => r.value))].sort((a, b) => seq(a) - seq(b))
    const rows = Object.fromEntries(tableOrder.map((t) => [t, ids(t)] as const).filter(([, list]) => list.length > 0))
    return { keys, rows }
  })
