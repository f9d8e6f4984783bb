/**
 * The connection the live suites use: a `PgClient` built from the verified target's explicit fields
 * (never the raw DSN, so no driver fallback can change the database), whose identity is checked with
 * `SELECT current_database()` before anything is written through it.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Context, Data, Duration, Effect, Layer, type Scope } from "effect"
import * as DsnGuard from "./DsnGuard.js"
import { classify, fixFor, problems } from "./internal/pgError.js"
import * as PgPool from "./internal/pgPool.js"

/** The `application_name` every harness connection carries, so `pg_stat_activity` shows who is who. */
export const applicationName = "workflow-live"

/** Every reason, for docs and tests. */
export const reasons = [...problems, "identity-mismatch"] as const

/** Why the lane's connection could not be used. */
export type LaneDatabaseReason = typeof reasons[number]

/** The lane's database could not be opened, or turned out to be another database. */
export class LaneDatabaseError extends Data.TaggedError("LaneDatabaseError")<{
  readonly reason: LaneDatabaseReason
  /** `host:port` */
  readonly where: string
  readonly user: string
  readonly expected: string
  /** What `current_database()` returned, for an identity mismatch. */
  readonly actual: string | undefined
  /** The driver's own words (never containing the password: the driver does not echo it). */
  readonly detail: string
  /** The SQLSTATE or errno seen, when there was one. */
  readonly code?: string | undefined
}> {
  override get message(): string {
    if (this.reason === "identity-mismatch") {
      return [
        `The lane's connection reports current_database() = \`${this.actual}\`, not \`${this.expected}\`.`,
        `  Why: the lane writes only to the workflow database; a connection that lands elsewhere ` +
        `(a pooler, a proxy, a rewritten database name) could write into someone else's data.`,
        `  Fix: point TENDERBOT_WORKFLOW_DB_DSN straight at the PostgreSQL server that holds ` +
        `\`${this.expected}\`, not through a pooler that remaps database names.`
      ].join("\n")
    }
    return [
      `Cannot open the workflow database \`${this.expected}\` on ${this.where} (${this.reason}).`,
      `  Driver: ${this.detail}`,
      `  Fix:    ${fixFor(this.reason, this.where, this.user, this.expected, this.code)}`
    ].join("\n")
  }
}

/** Options for the lane's connection pool. */
export interface Options {
  readonly maxConnections?: number | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly applicationName?: string | undefined
}

/**
 * The `PgClient` options for a verified target: explicit fields only. It cannot carry the DSN's session
 * settings (`options`, `statement_timeout`, ...): the harness's own connections use {@link open}.
 */
export const clientConfig = (
  target: DsnGuard.VerifiedTarget,
  options: Options & { readonly database?: string } = {}
): PgClient.PgClientConfig => ({
  host: target.connection.host,
  port: target.connection.port,
  ...(target.connection.user === "" ? {} : { username: target.connection.user }),
  ...(target.connection.password === undefined ? {} : { password: target.connection.password }),
  database: options.database ?? target.connection.database,
  ...(target.connection.ssl === undefined ? {} : { ssl: target.connection.ssl as boolean }),
  maxConnections: options.maxConnections ?? 4,
  connectTimeout: options.connectTimeout ?? Duration.seconds(5),
  applicationName: options.applicationName ?? applicationName
})

/** The verified target as the harness's pool sees it: its fields and the DSN's session settings. */
export const endpoint = (target: DsnGuard.VerifiedTarget): PgPool.Endpoint => target.connection

/**
 * A `PgClient` on the verified target (or another database of its server), carrying every setting of
 * the DSN the driver honours. Every connection the harness opens is made here.
 */
export const open = (
  target: DsnGuard.VerifiedTarget,
  options: Options & {
    readonly database?: string | undefined
    readonly idleTimeout?: Duration.DurationInput | undefined
    readonly keepAlive?: boolean | undefined
    readonly onConnect?: PgPool.PoolOptions["onConnect"]
    readonly stream?: PgPool.PoolOptions["stream"]
    readonly probe?: PgPool.PoolOptions["probe"]
    readonly catalogOnly?: boolean | undefined
  } = {}
): Effect.Effect<PgClient.PgClient, SqlError, Scope.Scope> =>
  PgPool.open(endpoint(target), {
    database: options.database,
    applicationName: options.applicationName ?? applicationName,
    maxConnections: options.maxConnections ?? 4,
    connectTimeout: options.connectTimeout,
    idleTimeout: options.idleTimeout,
    keepAlive: options.keepAlive,
    onConnect: options.onConnect,
    stream: options.stream,
    probe: options.probe,
    catalogOnly: options.catalogOnly
  })

/** Checks `current_database()` on the client against the target: the last word on where writes go. */
export const checkIdentity = (
  target: DsnGuard.VerifiedTarget
): Effect.Effect<void, LaneDatabaseError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ db: string }>`SELECT pg_catalog.current_database() AS db`.pipe(
      Effect.mapError((cause) => toError(target, cause))
    )
    const actual = rows[0]?.db
    if (actual !== target.database) {
      return yield* new LaneDatabaseError({
        reason: "identity-mismatch",
        where: `${target.host}:${target.port}`,
        user: target.user,
        expected: target.database,
        actual,
        detail: ""
      })
    }
  })

const toError = (target: DsnGuard.VerifiedTarget, cause: unknown): LaneDatabaseError => {
  const classified = classify(cause)
  return new LaneDatabaseError({
    reason: classified.problem,
    where: `${target.host}:${target.port}`,
    user: target.user,
    expected: target.database,
    actual: undefined,
    detail: classified.detail,
    code: classified.code
  })
}

/** The lane's `PgClient` / `SqlClient`, opened on the verified target and identity-checked. */
export const layer = (
  options: Options = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, LaneDatabaseError, DsnGuard.VerifiedTarget> =>
  Layer.unwrapEffect(
    Effect.map(DsnGuard.VerifiedTarget, (target) => {
      const client = Layer.scopedContext(
        Effect.map(open(target, options), (pg) => Context.make(PgClient.PgClient, pg).pipe(Context.add(SqlClient.SqlClient, pg)))
      ).pipe(Layer.mapError((cause) => toError(target, cause)))
      return Layer.effectDiscard(checkIdentity(target)).pipe(Layer.provideMerge(client))
    })
  )
