/**
 * A throwaway, migrated database per integration test file on the local server, so files running in
 * parallel never share state. Only names starting with `wl_it_` are ever created or dropped.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as Migrations from "../../src/Migrations.js"

/** The local server the integration lane uses. */
export const server = "postgres://postgres@127.0.0.1:5432"

/** A verified target for one of the test's own databases (the guard accepts it by name). */
export const target = (database: string): Effect.Effect<DsnGuard.VerifiedTarget, DsnGuard.DsnGuardError> =>
  DsnGuard.verify(Option.some(Redacted.make(`${server}/${database}`)), {}, { database })

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
