/**
 * Every connection the harness opens goes through here: a `pg` pool built from explicit fields plus the
 * DSN's session settings (`options`, `statement_timeout`, ...), wrapped as a `PgClient`. `@effect/sql-pg`'s
 * own constructor has no place for those settings, so the pool is made here and handed to `fromPool`.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Duration, Effect, Redacted, type Scope } from "effect"
import pg from "pg"

/** Where and how to connect: the verified target's explicit fields. */
export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: Redacted.Redacted<string> | undefined
  readonly database: string
  readonly ssl: boolean | object | undefined
  /** Driver config keys carried from the DSN onto every connection. */
  readonly driverOptions: Readonly<Record<string, string>>
  readonly connectTimeoutMillis: number | undefined
  readonly keepAlive: boolean | undefined
  readonly keepAliveIdleMillis: number | undefined
}

/** One pool's settings. */
export interface PoolOptions {
  /** Another database of the same server (the maintenance database); default the endpoint's. */
  readonly database?: string | undefined
  readonly applicationName: string
  readonly maxConnections: number
  /** Default: the DSN's `connect_timeout`, else 5 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** `Duration.zero` keeps idle connections open for the pool's lifetime (a session lock lives on one). */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** TCP keepalives, so a peer that vanished is noticed; default the DSN's `keepalives`. */
  readonly keepAlive?: boolean | undefined
  /** Called with each new physical connection, e.g. to watch it for the server closing it. */
  readonly onConnect?: ((client: pg.Client) => void) | undefined
  /** The driver's socket, e.g. one opened ahead (`internal/preconnect`); default a new one per connection. */
  readonly stream?: (() => unknown) | undefined
  /**
   * How the first connection is proven: `query` (default) runs `SELECT 1`, as `PgClient.make` does, so a
   * pooler that connects lazily is caught here; `connect` only completes the startup, one round trip less,
   * for a session whose first statement follows at once and fails the same way.
   */
  readonly probe?: "query" | "connect" | undefined
  /**
   * A session that reads and changes only the catalogs (the reset's, prune's, preflight's): its
   * `search_path` is pinned to `pg_catalog` after the DSN's own options, so no function or view a
   * database holds (`public.pg_database`, `public.shobj_description`) can answer in place of the system's.
   */
  readonly catalogOnly?: boolean | undefined
}

const pinnedSearchPath = "-c search_path=pg_catalog"

/** The `options` startup parameter: the DSN's (else PGOPTIONS, as the driver would), pinned for a catalog session. */
const startupOptions = (endpoint: Endpoint, options: PoolOptions): Record<string, string> => {
  if (options.catalogOnly !== true) return {}
  const own = (endpoint.driverOptions["options"] ?? process.env["PGOPTIONS"] ?? "").trim()
  return { options: own === "" ? pinnedSearchPath : `${own} ${pinnedSearchPath}` }
}

const poolConfig = (endpoint: Endpoint, options: PoolOptions, connectMillis: number): pg.PoolConfig => {
  const idle = options.idleTimeout === undefined ? undefined : Duration.toMillis(options.idleTimeout)
  const keepAlive = options.keepAlive ?? endpoint.keepAlive
  return {
    ...endpoint.driverOptions,
    ...startupOptions(endpoint, options),
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.user === "" ? {} : { user: endpoint.user }),
    ...(endpoint.password === undefined ? {} : { password: Redacted.value(endpoint.password) }),
    database: options.database ?? endpoint.database,
    ...(endpoint.ssl === undefined ? {} : { ssl: endpoint.ssl as pg.PoolConfig["ssl"] }),
    application_name: options.applicationName,
    max: options.maxConnections,
    connectionTimeoutMillis: connectMillis,
    ...(idle === undefined ? {} : { idleTimeoutMillis: idle }),
    ...(keepAlive === undefined ? {} : { keepAlive }),
    ...(endpoint.keepAliveIdleMillis === undefined ? {} : { keepAliveInitialDelayMillis: endpoint.keepAliveIdleMillis }),
    ...(options.stream === undefined ? {} : { stream: options.stream })
  } as pg.PoolConfig
}

const cancelStatement = /^SELECT pg_cancel_backend\((\d+)\)$/

/**
 * `@effect/sql-pg` cancels an interrupted query with `pool.query("SELECT pg_cancel_backend(<pid>)")`, which
 * needs a connection of its own: in a one-connection pool (most of the harness's, the reset's session
 * among them) it waited for the pool's connect timeout, so a Ctrl-C that met a running statement ended the
 * command 5 s late and left the statement running. That one statement is answered here with the protocol's
 * own cancel request instead (the driver's `Client#cancel`: no pool slot, no backend, no authentication).
 */
const cancellingWithoutASlot = (pool: pg.Pool, config: pg.PoolConfig): pg.Pool => {
  const clients = new Map<number, pg.PoolClient>()
  pool.on("connect", (client) => {
    const pid = (client as unknown as { processID?: number }).processID
    if (pid !== undefined) clients.set(pid, client)
  })
  pool.on("remove", (client) => clients.delete((client as unknown as { processID?: number }).processID ?? -1))
  const query = pool.query.bind(pool) as (...args: ReadonlyArray<unknown>) => unknown
  ;(pool as unknown as { query: (...args: ReadonlyArray<unknown>) => unknown }).query = (...args) => {
    const [text, callback] = args
    const pid = typeof text === "string" ? cancelStatement.exec(text)?.[1] : undefined
    const client = pid === undefined ? undefined : clients.get(Number(pid))
    if (client === undefined || typeof callback !== "function") return query(...args)
    const active = (client as unknown as { activeQuery?: unknown }).activeQuery
    // best effort, as the library's own cancel: the request is sent once its socket connects
    // (`cancel` is the driver's, untyped in @types/pg)
    if (active !== undefined && active !== null) {
      ;(new pg.Client(config) as unknown as { cancel: (client: pg.PoolClient, query: unknown) => void }).cancel(client, active)
    }
    setImmediate(() => (callback as () => void)())
    return undefined
  }
  return pool
}

/** A `PgClient` on the endpoint, its pool ended with the scope; fails like `PgClient.make` when it cannot connect. */
export const open = (
  endpoint: Endpoint,
  options: PoolOptions
): Effect.Effect<PgClient.PgClient, SqlError, Scope.Scope> =>
  Effect.gen(function*() {
    const connectMillis = Duration.toMillis(
      options.connectTimeout ?? (endpoint.connectTimeoutMillis === undefined ? Duration.seconds(5) : endpoint.connectTimeoutMillis)
    )
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const config = poolConfig(endpoint, options, connectMillis)
        const made = cancellingWithoutASlot(new pg.Pool(config), config)
        // an idle connection the server closes is reported by whoever watches it (onConnect), not thrown
        made.on("error", () => {})
        if (options.onConnect !== undefined) made.on("connect", options.onConnect)
        return made
      }),
      (made) => Effect.promise(() => made.end()).pipe(Effect.interruptible, Effect.timeoutOption(1000))
    )
    // the first connection, as PgClient.make does it: a failure here names what went wrong
    yield* Effect.tryPromise({
      try: (): Promise<unknown> =>
        options.probe === "connect"
          ? pool.connect().then((client) => client.release())
          : pool.query("SELECT 1"),
      catch: (cause) => new SqlError({ cause, message: "PgClient: Failed to connect" })
    }).pipe(
      Effect.timeoutFail({
        duration: connectMillis + 1000,
        onTimeout: () => new SqlError({ cause: new Error("Connection timed out"), message: "PgClient: Connection timed out" })
      })
    )
    return yield* PgClient.fromPool({ acquire: Effect.succeed(pool), applicationName: options.applicationName })
  }).pipe(Effect.provide(Reactivity.layer))
