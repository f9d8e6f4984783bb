/**
 * The PostgreSQL server the integration tests use, and a throwaway, migrated database per test file on
 * it, so files running in parallel never share state. Only names starting with `wl_it_` are ever created
 * or dropped.
 *
 * The server comes from WORKFLOW_LIVE_TEST_SERVER (`postgres://user[:password]@host:port`), which the
 * test run's global setup (test/support/testServer.ts) sets for every worker and subprocess; a file run
 * without it uses postgres@127.0.0.1:5432.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as Migrations from "../../src/Migrations.js"

/** Where the test server is and who the tests connect as (a superuser). */
export interface Server {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
}

/** The variable that names the test server. */
export const serverVariable = "WORKFLOW_LIVE_TEST_SERVER"

const parseServer = (text: string | undefined): Server => {
  const url = new URL(text === undefined || text === "" ? "postgres://postgres@127.0.0.1:5432" : text)
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: url.port === "" ? 5432 : Number(url.port),
    user: url.username === "" ? "postgres" : decodeURIComponent(url.username),
    password: url.password === "" ? undefined : decodeURIComponent(url.password)
  }
}

/** The test server. */
export const server: Server = parseServer(process.env[serverVariable])

/**
 * A password for DSNs that must prove a secret never shows: the server's own when it has one, otherwise a
 * made-up one (trust authentication ignores it).
 */
export const secret: string = server.password ?? "S3cretPw"

const hostPart = server.host.includes(":") ? `[${server.host}]` : server.host

/** `host:port` of the test server, as the harness prints it. */
export const address = `${hostPart}:${server.port}`

/** A DSN for `database` on the test server, as `user` (default: the server's) with `password` if any. */
export const url = (
  database: string,
  options: { readonly user?: string; readonly password?: string | undefined } = {}
): string => {
  const user = options.user ?? server.user
  const password = "password" in options ? options.password : server.password
  const auth = password === undefined ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
  return `postgres://${auth}@${address}/${database}`
}

/** node-postgres connection settings for `database` on the test server. */
export const connection = (database: string, applicationName?: string) => ({
  host: server.host,
  port: server.port,
  user: server.user,
  ...(server.password === undefined ? {} : { password: server.password }),
  database,
  ...(applicationName === undefined ? {} : { application_name: applicationName })
})

/** A verified target for one of the test's own databases (the guard accepts it by name). */
export const target = (database: string): Effect.Effect<DsnGuard.VerifiedTarget, DsnGuard.DsnGuardError> =>
  DsnGuard.verify(Option.some(Redacted.make(url(database))), {}, { database })

const maintenance = (verified: DsnGuard.VerifiedTarget) =>
  PgClient.layer(LaneDatabase.clientConfig(verified, { database: "postgres", maxConnections: 1 }))

const assertOwn = (database: string): Effect.Effect<void> =>
  /^wl_it_[a-z0-9_]+$/.test(database)
    ? Effect.void
    : Effect.dieMessage(`test database names must start with wl_it_: ${database}`)

/** Drops (if left over), creates and migrates `database`. */
export const create = (database: string): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    yield* assertOwn(database)
    const verified = yield* target(database)
    yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP DATABASE IF EXISTS ${sql(database)} WITH (FORCE)`
      yield* sql`CREATE DATABASE ${sql(database)}`
    }).pipe(Effect.provide(maintenance(verified)), Effect.scoped)
    const set = yield* Migrations.load()
    yield* Migrations.run(set).pipe(
      Effect.provide(PgClient.layer(LaneDatabase.clientConfig(verified, { maxConnections: 1 }))),
      Effect.scoped
    )
  })

/** Drops `database` (only a `wl_it_` one). */
export const drop = (database: string): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    yield* assertOwn(database)
    const verified = yield* target(database)
    yield* Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`DROP DATABASE IF EXISTS ${sql(database)} WITH (FORCE)`
    }).pipe(Effect.provide(maintenance(verified)), Effect.scoped)
  })

/** The lane layers (verified target + identity-checked connection) on an existing test database. */
export const lane = (
  database: string
): Layer.Layer<DsnGuard.VerifiedTarget | SqlClient.SqlClient | PgClient.PgClient, unknown> =>
  LaneDatabase.layer().pipe(Layer.provideMerge(Layer.effect(DsnGuard.VerifiedTarget, target(database))))

/** Runs an Effect to a promise, for `beforeAll` / `afterAll`. */
export const runPromise = <A>(effect: Effect.Effect<A, unknown>): Promise<A> => Effect.runPromise(effect)
