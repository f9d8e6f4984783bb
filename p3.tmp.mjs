import pg from "pg"
const c = new pg.Client({ host: "127.0.0.1", user: "postgres", database: "postgres" })
await c.connect()
const fam = `SELECT pg_try_advisory_lock(1, hashtext('px_a')) AS locked, (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS "canCreate"; SELECT d.datname AS name, d.oid::text AS oid, shobj_description(d.oid, 'pg_database') AS comment, pg_has_role(current_user, d.datdba, 'USAGE') AS owned,
 CASE WHEN d.datname = 'px_a' THEN (SELECT coalesce(json_agg(s), '[]') FROM (SELECT a.pid, pg_get_userbyid(a.usesysid) AS "user", a.state FROM pg_stat_get_activity(NULL) a WHERE a.datid = d.oid AND a.pid <> pg_backend_pid()) s) END AS sessions
 FROM pg_database d WHERE d.datname = 'postgres' OR starts_with(d.datname, 'px_')`
for (const sleep of [0, 0, 0, 5, 20, 20, 100, 0, 0]) {
  await new Promise((r) => setTimeout(r, sleep))
  const t = performance.now(); await c.query(fam); const a = performance.now() - t
  const t2 = performance.now(); await c.query("SELECT 1"); const b = performance.now() - t2
  console.log(sleep, a.toFixed(2), b.toFixed(2))
  await c.query("SELECT pg_advisory_unlock_all()")
}
await c.end()
