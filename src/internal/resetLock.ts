/**
 * The reset's advisory lock, on one session: taken exclusively for a reset (waiting for other resets and
 * running lanes with a bounded, backing-off retry), turned into a shared lock for a running lane without
 * letting go in between, and watched, so that losing the session is noticed the moment it happens.
 */
import type { Connection } from "@effect/sql/SqlConnection"
import type { Statement } from "@effect/sql/Statement"
import type * as PgClient from "@effect/sql-pg/PgClient"
import { Data, Duration, Effect, Schedule } from "effect"
import pg from "pg"

/** First key of the reset's two-key advisory lock ("WLRS"); the second is `hashtext(<database>)`. */
export const lockNamespace = 0x574c5253

/** Runs a statement on the reserved session (never on the pool: its only connection is the session). */
export type Run = <A extends object>(statement: Statement<A>) => Effect.Effect<ReadonlyArray<A>, unknown>

/** Runs compiled statements on a reserved connection. */
export const runOn = (connection: Connection): Run => (statement) => {
  const [text, params] = statement.compile()
  return connection.execute(text, params, undefined) as Effect.Effect<ReadonlyArray<never>, unknown>
}

/** The lock is held by another session; retried until the lock timeout. */
export class LockBusy extends Data.TaggedError("LockBusy")<{}> {}

/** The role may not create databases: checked with the first lock attempt, before anything is dropped. */
export class NoCreatedb extends Data.TaggedError("NoCreatedb")<{}> {}

// backs off from 25 ms to at most 250 ms between attempts
const retrySchedule = (timeout: Duration.DurationInput) =>
  Schedule.exponential(Duration.millis(25)).pipe(
    Schedule.union(Schedule.spaced(Duration.millis(250))),
    Schedule.upTo(timeout)
  )

/**
 * Takes the exclusive lock, retrying while it is busy; fails with the last `LockBusy` at the timeout.
 * A reset also needs CREATEDB (checked with the first attempt); `prune` only drops, so it does not.
 */
export const acquireExclusive = (
  sql: PgClient.PgClient,
  run: Run,
  database: string,
  timeout: Duration.DurationInput,
  needsCreatedb = true
): Effect.Effect<void, LockBusy | NoCreatedb | unknown> =>
  Effect.flatMap(run(sql.unsafe<Attempt>(tryLockSql(database))), ([row]) => outcome(row, needsCreatedb)).pipe(
    Effect.retry({ schedule: retrySchedule(timeout), while: (error) => error instanceof LockBusy })
  )

/** One attempt at the exclusive lock, and whether the role may create databases, as text. */
export const tryLockSql = (database: string): string =>
  `SELECT pg_try_advisory_lock(${lockNamespace}, hashtext(${pg.escapeLiteral(database)})) AS locked,
    (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS "canCreate"`

/** The row of {@link tryLockSql}. */
export interface Attempt {
  readonly locked: boolean
  readonly canCreate: boolean | null
}

/** What one attempt's row means. */
export const outcome = (row: Attempt | undefined, needsCreatedb = true): Effect.Effect<void, LockBusy | NoCreatedb> =>
  needsCreatedb && row?.canCreate !== true
    ? Effect.fail(new NoCreatedb())
    : row?.locked === true
    ? Effect.void
    : Effect.fail(new LockBusy())

/**
 * Session columns as `DatabaseReset.Session` reads them, from `pg_stat_get_activity(NULL) a` (the function
 * under the `pg_stat_activity` view: a fresh backend plans the view's joins in ~0.6 ms, on the critical path
 * of every reset).
 */
export const sessionColumns = `a.pid, pg_get_userbyid(a.usesysid) AS "user", coalesce(a.application_name, '') AS "applicationName",
  a.client_addr::text AS client, a.state, a.backend_start AS "backendStart"`

/** The sessions holding the lock (either mode), for a `lock-timeout` message. */
export const holders = <A extends object>(sql: PgClient.PgClient, run: Run, database: string) =>
  run(sql<A>`SELECT ${sql.literal(sessionColumns)}
    FROM pg_locks l JOIN pg_stat_get_activity(NULL) a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.classid = ${lockNamespace}::int4::oid AND l.objid = hashtext(${database})::oid`)

/** Releases the exclusive lock. */
export const releaseExclusive = (sql: PgClient.PgClient, run: Run, database: string) =>
  run(sql`SELECT pg_advisory_unlock(${lockNamespace}, hashtext(${database}))`)

/**
 * Turns the held exclusive lock into a shared one on the same session: the shared lock is granted while
 * the exclusive one is still held (a session never conflicts with itself, and PostgreSQL puts it ahead
 * of any reset already waiting), so there is no moment in which another reset could start.
 */
export const downgrade = (sql: PgClient.PgClient, run: Run, database: string) =>
  run(sql`SELECT pg_advisory_lock_shared(${lockNamespace}, hashtext(${database}))`).pipe(
    Effect.zipRight(releaseExclusive(sql, run, database))
  )

/** Releases the shared lock. */
export const releaseShared = (sql: PgClient.PgClient, run: Run, database: string) =>
  run(sql`SELECT pg_advisory_unlock_shared(${lockNamespace}, hashtext(${database}))`)

/**
 * Keeps a long-held session alive: no idle timeout may close it (the lock would go with it), and TCP
 * keepalives let the server notice a lane that died, so its lock does not outlive it. Settings a server
 * version lacks are skipped.
 */
export const keepSessionOpen = (sql: PgClient.PgClient, run: Run) =>
  run(sql`SELECT set_config(name, value, false) FROM (VALUES
      ('idle_session_timeout', '0'), ('idle_in_transaction_session_timeout', '0'),
      ('tcp_keepalives_idle', '30'), ('tcp_keepalives_interval', '10'), ('tcp_keepalives_count', '3')
    ) AS wanted(name, value) WHERE EXISTS (SELECT 1 FROM pg_settings s WHERE s.name = wanted.name)`)

/** Why a held session is gone, in words, with the SQLSTATE or errno seen. */
export interface Closed {
  readonly why: string
  readonly code: string | undefined
}

const codeOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : undefined

/** What an error (or the end) of a held session means. */
export const closedBy = (error: unknown): Closed => {
  const code = codeOf(error)
  const said = error instanceof Error ? `: "${error.message}"` : ""
  switch (code) {
    case "57P01":
      return { code, why: `the server terminated it (pg_terminate_backend, or a fast shutdown or restart)${said}` }
    case "57P02":
      return { code, why: `the server crashed or was stopped immediately${said}` }
    case "57P05":
      return { code, why: `the server closed it for idling (idle_session_timeout)${said}` }
    case "25P03":
      return { code, why: `the server closed it for idling in a transaction (idle_in_transaction_session_timeout)${said}` }
    case undefined:
      return error === undefined
        ? { code, why: "the connection was closed without an error (a pooler, a proxy or the server ended it)" }
        : { code, why: `the connection failed${said}` }
    default:
      return { code, why: `the connection failed (${code})${said}` }
  }
}

/** Completes when the server or the network ends the session's connection. */
export const watch = (client: pg.Client): Effect.Effect<Closed> =>
  Effect.async<Closed>((resume) => {
    const onError = (error: unknown) => resume(Effect.succeed(closedBy(error)))
    const onEnd = () => resume(Effect.succeed(closedBy(undefined)))
    client.once("error", onError)
    client.once("end", onEnd)
    return Effect.sync(() => {
      client.off("error", onError)
      client.off("end", onEnd)
    })
  })

/**
 * Completes when the shared lock is no longer held by the session, checked every `every`: a pooler can
 * hand the lane another server session without any error. The check itself keeps the session busy.
 */
export const heartbeat = (
  sql: PgClient.PgClient,
  run: Run,
  database: string,
  every: Duration.DurationInput
): Effect.Effect<Closed> =>
  run(sql<{ held: boolean }>`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = pg_backend_pid()
      AND locktype = 'advisory' AND mode = 'ShareLock' AND granted AND objsubid = 2
      AND classid = ${lockNamespace}::int4::oid AND objid = hashtext(${database})::oid) AS held`).pipe(
    Effect.map(([row]) => row?.held === true),
    Effect.catchAll((error) => Effect.fail(closedBy(error))),
    Effect.repeat({ schedule: Schedule.spaced(every), while: (held) => held }),
    Effect.as<Closed>({
      code: undefined,
      why: "the session no longer holds the lock (a pooler may have moved the lane to another server session)"
    }),
    Effect.merge
  )
