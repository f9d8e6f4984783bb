/**
 * The reset: swap in the spare (or drop, create or clone the migrations' template), mark, migrate and
 * identity-check the workflow database. It only accepts a {@link DsnGuard.VerifiedTarget}, takes a
 * server-wide advisory lock per database, and may only ever drop or rename the target's database and its
 * own marked `<database>__tpl_<hash>` templates, `<database>__spare_<hash>` spares and `<database>__old_<ms>`
 * retired databases. A warm reset renames the spare into place; the deferred work (drop what was renamed
 * away, clone the next spare) runs after it, under the same lock. A lane keeps the lock (shared) while its
 * tests run: {@link resetAndProtect}.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import { Data, Duration, Effect, Fiber, Layer, Option, Redacted, type Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { join } from "node:path"
import type pg from "pg"
import * as DsnGuard from "./DsnGuard.js"
import { type Inventory, inventorySql, toInventory } from "./internal/databaseInventory.js"
import { classify } from "./internal/pgError.js"
import { scrub } from "./internal/redact.js"
import { preconnect, type StreamFactory } from "./internal/preconnect.js"
import * as ResetLock from "./internal/resetLock.js"
import * as Run from "./internal/resetRun.js"
import * as Spare from "./internal/resetSpare.js"
import { describeSession, type MessageFields, resetMessage, resetReasons, type SessionInfo } from "./internal/resetMessage.js"
import * as Steps from "./internal/resetSteps.js"

const PgClientTag = PgClient.PgClient
import * as LaneDatabase from "./LaneDatabase.js"
import * as Migrations from "./Migrations.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

/** The `application_name` of the reset's connections (with the OS pid, so a lock holder can be found). */
export const applicationName: string = `${LaneDatabase.applicationName} reset (pid ${process.pid})`

/** The `application_name` of the session a lane holds its lock on while its tests run. */
export const laneApplicationName: string = `${LaneDatabase.applicationName} lane running tests (pid ${process.pid})`

/** The comment that marks a database as created by the harness. */
export const marker: string = Steps.marker

/** First key of the reset's two-key advisory lock ("WLRS"); the second is `hashtext(<database>)`. */
export const lockNamespace: number = ResetLock.lockNamespace

/** The steps of a reset, in the order they run. */
export const stepNames = Run.stepNames

/** A step of a reset. */
export type StepName = Run.StepName

/** One finished step: its duration and what it found or did. */
export type Step = Run.Step

/** A session connected to a database, as `pg_stat_activity` shows it. */
export type Session = SessionInfo

/** Who holds the reset lock, in words, for a line saying what a reset waits for. */
export const describeHolders = (holders: ReadonlyArray<Session>): string =>
  holders.length === 0
    ? "the reset lock is held by a session that just ended"
    : `the reset lock is held by ${holders.map(describeSession).join("; ")} (up to ${WorkflowLiveConfig.lockTimeoutVariable})`

/** What a reset did. */
export type ResetResult = Run.ResetResult

/** Every reason, for docs and tests. */
export const reasons = resetReasons

/** Why a reset failed (or a lane's protection was lost). */
export type DatabaseResetReason = typeof reasons[number]

/** The reset did not complete, or a lane lost its lock; the message says what, why and how to fix it. */
export class DatabaseResetError extends Data.TaggedError("DatabaseResetError")<{
  readonly reason: DatabaseResetReason
  /** The workflow database. */
  readonly database: string
  /** The database the failing statement concerned (the template, the maintenance database, ...). */
  readonly subject: string
  readonly step: StepName
  /** `host:port` */
  readonly where: string
  readonly user: string
  /** The server's or driver's words, secrets scrubbed. */
  readonly detail: string
  /** Sessions involved: who holds the lock, who is connected. */
  readonly sessions: ReadonlyArray<Session>
  /** The failed migration file, for `migration-failed` and `migration-half-applied`. */
  readonly file: string | undefined
  /** What the database holds, in words: an unmarked database, a half-applied migration, why a lock was lost. */
  readonly found?: string | undefined
  /** The SQLSTATE or errno seen, when there was one. */
  readonly code?: string | undefined
}> {
  override get message(): string {
    return resetMessage(this as MessageFields)
  }
}

/** One step as a terminal line: name, duration, detail. */
export const renderStep = (step: { readonly name: string; readonly millis: number; readonly detail: string }): string =>
  `  ${step.name.padEnd(9)}${`${Math.round(step.millis)} ms`.padStart(8)}  ${step.detail}`

/** How a reset is run. Every field has a default; `layerConfig` reads them from the environment. */
export type Options = Run.Options

/** A lane's lock on its database while its tests run. */
export interface Protection {
  /** The server pid of the session holding the lock. */
  readonly pid: number
  /**
   * Fails with `protection-lost` (naming why: terminated, idle timeout, restart, connection error) the
   * moment the lock's session is gone; never succeeds. Race the tests against it.
   */
  readonly lost: Effect.Effect<never, DatabaseResetError>
}

/** A reset whose lock stays held, shared, until the scope closes. */
export interface ProtectedReset {
  readonly result: ResetResult
  readonly protection: Protection
}

const errorOf = (ctx: Steps.Context, failure: Steps.StepFailure): DatabaseResetError =>
  new DatabaseResetError({
    reason: failure.reason,
    database: ctx.database,
    subject: failure.subject ?? ctx.database,
    step: failure.step as StepName,
    where: ctx.where,
    user: ctx.user,
    detail: scrub(failure.detail ?? "", ctx.secrets),
    sessions: failure.sessions ?? [],
    file: failure.file,
    found: failure.found === undefined ? undefined : scrub(failure.found, ctx.secrets),
    code: failure.code
  })

const on: Steps.OnFailure = Steps.onFailure

/** The names involved, before the migrations are read (enough for any error). */
const contextOf = (target: DsnGuard.VerifiedTarget, options: Options): Steps.Context => ({
  database: target.database,
  where: `${target.host}:${target.port}`,
  user: target.user,
  secrets: secretsOf(target),
  maintenance: options.maintenanceDatabase ?? "postgres",
  template: "",
  prefix: Migrations.templatePrefix(target.database),
  hash: "",
  spare: "",
  harnessVersion: ""
})

/** Step "guard": everything known without a connection: the migrations, their template, its name. */
const plan = (target: DsnGuard.VerifiedTarget, options: Options) =>
  Effect.gen(function*() {
    const set = yield* Migrations.load(options.migrationsDirectory)
    const ctx: Steps.Context = {
      ...contextOf(target, options),
      template: Migrations.templateName(target.database, set.hash),
      hash: set.hash,
      spare: Spare.spareName(target.database, set.hash),
      harnessVersion: set.harnessVersion
    }
    const longest = [ctx.template, Spare.longestName(ctx.database, ctx.hash)].find((name) => Buffer.byteLength(name) > 63)
    if (longest !== undefined) return yield* new Steps.StepFailure({ reason: "name-too-long", step: "guard", subject: longest })
    return { ctx, set }
  })

/** Opens the maintenance session, kept open (no pool idle timeout ends it) until the scope closes. */
const openSession = (
  ctx: Steps.Context,
  target: DsnGuard.VerifiedTarget,
  options: Options,
  name: string
): Effect.Effect<Run.Held, Steps.StepFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const clients: Array<pg.Client> = []
    const sql = yield* LaneDatabase.open(target, {
      database: ctx.maintenance,
      applicationName: name,
      // every name it uses is the system's: no function or view of the maintenance database answers instead
      catalogOnly: true,
      maxConnections: 1,
      connectTimeout: options.connectTimeout,
      idleTimeout: Duration.zero,
      keepAlive: true,
      // the lock statement follows at once: a failure there is reported as this connection's
      probe: "connect",
      onConnect: (client) => clients.push(client)
    }).pipe(on("lock", ctx.maintenance))
    const run = ResetLock.runOn(yield* on("lock", ctx.maintenance)(sql.reserve))
    // the server pid came with the connection (BackendKeyData): no round trip on the critical path
    const client = clients[clients.length - 1]!
    return { sql, run, client, pid: (client as unknown as { processID: number | null }).processID ?? 0, locks: { exclusive: false } }
  })

/** What an unmarked database holds, read on a connection to it; what cannot be read counts as something. */
const inventory = (target: DsnGuard.VerifiedTarget, options: Options): Effect.Effect<Inventory, Steps.StepFailure> =>
  Effect.scoped(
    // the database being judged must not answer for itself through functions of its own
    LaneDatabase.open(target, { applicationName, maxConnections: 1, connectTimeout: options.connectTimeout, catalogOnly: true }).pipe(
      Effect.flatMap((sql) => sql.unsafe<{ kind: string; name: string; total: number }>(inventorySql(5))),
      Effect.map(toInventory)
    )
  ).pipe(
    Effect.catchAll((cause) =>
      Effect.succeed<Inventory>({ total: 1, first: [{ kind: "something", name: `it could not look inside (${classify(cause).detail})` }] })
    )
  )

/** Steps "identity" and "migrate", on one fresh connection to the new database: identity before any write. */
const identityAndMigrate = (
  target: DsnGuard.VerifiedTarget,
  ctx: Steps.Context,
  set: Migrations.MigrationSet,
  options: Options,
  warm: boolean,
  ahead: StreamFactory | undefined,
  step: ReturnType<typeof Run.recorder>["step"]
) =>
  Effect.scoped(Effect.gen(function*() {
    // one connection: a second would cost as much as the clone itself
    const client = yield* LaneDatabase.open(target, { applicationName, maxConnections: 1, connectTimeout: options.connectTimeout, stream: ahead })
      .pipe(on("identity", ctx.database))
    yield* step("identity", Steps.checkIdentity(client, ctx, on), (actual) => `current_database() = ${actual} on a fresh connection`)
    // on a warm reset the Migrator must find nothing to do
    return yield* step("migrate", migrate(client, set, warm), (applied) =>
      `${applied.length} applied${applied.length === 0 ? "" : ` (${applied.map((m) => m.file).join(", ")})`}`)
  }))

/** The Migrator on the client; a failed migration says what it left behind. */
const migrate = (client: PgClient.PgClient, set: Migrations.MigrationSet, warm: boolean) =>
  // cold: the database was just created from template0, so whatever a failure leaves was left by the batch
  Migrations.run(set, { baseline: warm ? "none" : "empty" }).pipe(
    Effect.provideService(PgClientTag, client),
    Effect.provideService(SqlClient.SqlClient, client),
    Effect.catchTag("MigrationsError", (error): Effect.Effect<never, Steps.StepFailure | Migrations.MigrationsError> =>
      error.reason === "migration-failed" || error.reason === "migration-half-applied"
        ? Effect.fail(new Steps.StepFailure({
          reason: error.reason,
          step: "migrate",
          subject: join(error.directory, error.file ?? ""),
          detail: error.detail,
          file: error.file,
          found: error.leftBehind
        }))
        : Effect.fail(error))
  )

/** Runs the reset's steps on the session; the exclusive lock stays held until the scope closes. */
const resetOn = (
  held: Run.Held,
  target: DsnGuard.VerifiedTarget,
  planned: Effect.Effect.Success<ReturnType<typeof plan>>,
  options: Options,
  record: ReturnType<typeof Run.recorder>,
  rename?: string
) =>
  Effect.gen(function*() {
    const { ctx, set } = planned
    const timeout = options.lockTimeout ?? WorkflowLiveConfig.defaultLockTimeout
    const onBusy = options.onLockWait === undefined
      ? Effect.void
      : Effect.flatMap(ResetLock.holders<Session>(held.sql, held.run, ctx.database), options.onLockWait).pipe(Effect.ignore)
    const locked = yield* record.step("lock", Steps.lock(held, ctx, timeout, on, rename, onBusy), ({ read, waited }) =>
      `${waited > 50 ? `acquired after waiting ${Math.round(waited)} ms` : "acquired"}${read === undefined ? "" : " (the databases read with it)"}`)
    const found = yield* record.step("inspect", Steps.inspect(held, ctx, options.confirmDrop, inventory(target, options), on, locked.read), Steps.describeFound)
    const spare = options.spare === false ? undefined : found.spares.usable
    const done = { database: ctx.database, template: ctx.template, terminated: found.connected, steps: record.steps, millis: 0 }
    if (spare !== undefined) {
      const swapped = yield* record.step("swap", Steps.swap(held, ctx, found, on), (s) => s.detail)
      // no fresh connection here (its backend start is most of a swap's cost): the reset writes nothing
      // into the swapped-in database, and whoever does checks current_database() on its own connection
      yield* record.step("identity", Steps.checkSwapped(swapped.identity, ctx, spare.oid), (row) =>
        `${row.name} is oid ${row.oid}, the spare swapped in, marked (read in the swap's own transaction)`)
      // the spare is a clone of the template its hash names: the Migrator would find nothing to do
      return { ...done, mode: "warm", spare: spare.name, applied: [] } satisfies ResetResult
    }
    // the identity check's connection, opened now: the server forks its backend while the drop and clone run
    const ahead = yield* preconnect(target.connection.host, target.connection.port)
    yield* record.step("drop", Steps.drop(held, ctx, found, on), (dropped) => dropped)
    yield* record.step(found.warm ? "clone" : "create", Steps.create(held, ctx, found.warm, on), (detail) => detail)
    const applied = yield* identityAndMigrate(target, ctx, set, options, found.warm, ahead, record.step)
    if (!found.warm) yield* record.step("template", Steps.keepTemplate(held, ctx, found, on), (detail) => detail)
    return { ...done, mode: found.warm ? "warm" : "cold", spare: undefined, applied: applied.map((m) => m.file) } satisfies ResetResult
  })

/** The guard and the migrations read, the reset's session open: what a reset needs before its lock. */
interface Readied {
  readonly verified: DsnGuard.VerifiedTarget
  readonly planned: Effect.Effect.Success<ReturnType<typeof plan>>
  readonly held: Run.Held
  readonly record: ReturnType<typeof Run.recorder>
}

/** Guard, then the session connecting while the migrations are read (a problem with them is reported first). */
const ready = (
  target: DsnGuard.VerifiedTarget,
  options: Options,
  sessionName: string
): Effect.Effect<Readied, Steps.StepFailure | DatabaseResetError | Migrations.MigrationsError, Scope.Scope> =>
  Effect.gen(function*() {
    const record = Run.recorder(options.onStep)
    const verified = yield* DsnGuard.assertVerified(target)
    const opening = yield* Effect.forkScoped(openSession(contextOf(verified, options), verified, options, sessionName))
    const planned = yield* record.step("guard", plan(verified, options), (p) =>
      `${p.ctx.database} on ${p.ctx.where}; ${p.set.migrations.length} migrations, hash ${p.set.hash}`).pipe(
        Effect.tapError(() => Fiber.interrupt(opening))
      )
    return { verified, planned, held: yield* Fiber.join(opening), record }
  })

/** The reset on a readied session; the exclusive lock is held, on that session, until the scope closes. */
const resetReadied = (readied: Readied, options: Options, rename?: string) =>
  Effect.map(
    Effect.timed(resetOn(readied.held, readied.verified, readied.planned, options, readied.record, rename)),
    ([took, result]) => ({ held: readied.held, ctx: readied.planned.ctx, result: { ...result, millis: Duration.toMillis(took) } })
  )

const toResetError = (target: DsnGuard.VerifiedTarget, options: Options) => <A, R>(
  effect: Effect.Effect<A, Steps.StepFailure | DatabaseResetError | Migrations.MigrationsError, R>
): Effect.Effect<A, DatabaseResetError | Migrations.MigrationsError, R> =>
  Effect.mapError(effect, (error) => error instanceof Steps.StepFailure ? errorOf(contextOf(target, options), error) : error)

/** Guard, session, reset; the exclusive lock is held, on the returned session, until the scope closes. */
const resetHeld = (
  target: DsnGuard.VerifiedTarget,
  options: Options,
  sessionName: string
): Effect.Effect<
  { readonly held: Run.Held; readonly ctx: Steps.Context; readonly result: ResetResult },
  DatabaseResetError | Migrations.MigrationsError,
  Scope.Scope
> =>
  Effect.timed(Effect.flatMap(ready(target, options, sessionName), (readied) => resetReadied(readied, options))).pipe(
    // unprepared, the reset's time includes the guard and the connection
    Effect.map(([took, done]) => ({ ...done, result: { ...done.result, millis: Duration.toMillis(took) } })),
    toResetError(target, options)
  )

/**
 * A reset made ready ahead of time: the guard passed, the migrations read and hashed, the reset's session
 * connected and its first reads done (a fresh backend's first statements cost ~1.5 ms each in catalog
 * lookups). What is left for {@link Prepared.reset} is the lock with its read, and the swap: two round
 * trips on a warm session. A lane prepares while preflight runs.
 */
export interface Prepared {
  /**
   * {@link resetScoped}, minus what was prepared; `millis` counts from this call. Once per preparation
   * (either this or `resetAndProtect`); a session the server closed meanwhile is replaced by a new one.
   */
  readonly reset: Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError, Scope.Scope>
  /** {@link resetAndProtect}, minus what was prepared. */
  readonly resetAndProtect: Effect.Effect<ProtectedReset, DatabaseResetError | Migrations.MigrationsError, Scope.Scope>
}

/**
 * Prepares a reset of the verified target's database (see {@link Prepared}); the session stays open, idle
 * and holding no lock, until it is used or the scope closes. The migrations are read now: prepare shortly
 * before the reset, not once for many.
 */
export const prepare = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<Prepared, DatabaseResetError | Migrations.MigrationsError, Scope.Scope> =>
  Effect.gen(function*() {
    const readied = yield* ready(target, options, applicationName)
    const { ctx } = readied.planned
    const closed = { now: false }
    readied.held.client.once("end", () => (closed.now = true))
    // the reads the reset repeats under its lock: the catalogs they touch are cached in the backend now
    yield* readied.held.run(readied.held.sql.unsafe(Steps.warmUpSql(ctx))).pipe(on("lock", ctx.maintenance))
    let used = false
    const take = (sessionName: string): Effect.Effect<Readied, Steps.StepFailure | DatabaseResetError | Migrations.MigrationsError, Scope.Scope> =>
      Effect.suspend(() => {
        if (used) return Effect.dieMessage("DatabaseReset.prepare: a prepared reset runs once; prepare another")
        used = true
        // the guard's step, timed when prepared, stays the first of the result's
        if (!closed.now) return Effect.succeed(readied)
        return Effect.map(openSession(ctx, readied.verified, options, sessionName), (held) => ({ ...readied, held }))
      })
    return {
      reset: Effect.gen(function*() {
        const readiedNow = yield* take(applicationName)
        const done = yield* resetReadied(readiedNow, options)
        if (options.deferred !== "leave") yield* Run.deferOn(done.held, done.ctx, deferOptions(readiedNow.verified, options))
        return done.result
      }).pipe(toResetError(target, options)),
      resetAndProtect: Effect.flatMap(take(laneApplicationName), (readiedNow) =>
        // the session was named for a reset: it takes the lane's name in the lock's round trip
        protectOn(readiedNow.verified, options, resetReadied(readiedNow, options, laneApplicationName))).pipe(toResetError(target, options))
    }
  }).pipe(toResetError(target, options))

/**
 * Resets the verified target's database and waits for the deferred work too. Requires a target from
 * {@link DsnGuard.verify}: no other value, and no other name, is accepted.
 */
export const reset = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError> => Effect.scoped(resetScoped(target, options))

/**
 * Resets the verified target's database and returns as soon as it is ready: the deferred work (drop the
 * database renamed away, clone the next spare) goes on, under the reset's lock, which it then releases; the
 * scope's close waits for it. A next reset of the database waits for it on the lock.
 */
export const resetScoped = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError, Scope.Scope> =>
  Effect.gen(function*() {
    const { ctx, held, result } = yield* resetHeld(target, options, applicationName)
    if (options.deferred !== "leave") yield* Run.deferOn(held, ctx, deferOptions(target, options))
    return result
  })

const deferOptions = (target: DsnGuard.VerifiedTarget, options: Options) => ({
  spare: options.spare !== false,
  onStep: options.onStep,
  warm: warmer(target, options)
})

/** A first connection to a new spare (its relcache init file is built then, not on the next reset's path). */
const warmer = (target: DsnGuard.VerifiedTarget, options: Options): Steps.Warm => (database) =>
  Effect.scoped(
    LaneDatabase.open(target, { database, applicationName: `${applicationName} deferred work`, maxConnections: 1, connectTimeout: options.connectTimeout })
      .pipe(Effect.flatMap((client) => client`SELECT 1`))
  ).pipe(Effect.asVoid, on("spare", database))

/**
 * Does what a reset with `deferred: "leave"` left: takes the reset lock (waiting for a running reset or
 * lane), drops the retired databases and stale spares, clones the next spare. Returns its step line.
 */
export const finishDeferred = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<string, DatabaseResetError | Migrations.MigrationsError> =>
  Effect.scoped(Effect.gen(function*() {
    const verified = yield* DsnGuard.assertVerified(target)
    const { ctx } = yield* plan(verified, options)
    const held = yield* openSession(ctx, verified, options, `${applicationName} deferred work`)
    yield* Steps.lock(held, ctx, options.lockTimeout ?? WorkflowLiveConfig.defaultLockTimeout, on)
    return yield* Run.deferredWork(held, ctx, options.spare !== false, warmer(verified, options))
  })).pipe(
    Effect.mapError((error) => error instanceof Steps.StepFailure ? errorOf(contextOf(target, options), error) : error)
  )

/**
 * Resets the database and keeps every other reset of it waiting until the scope closes: the lock the
 * reset took exclusively becomes shared on the same session, with no moment in between, and the session
 * is kept open and watched. A lane holds it while its tests run and races them against `lost`.
 */
export const resetAndProtect = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<ProtectedReset, DatabaseResetError | Migrations.MigrationsError, Scope.Scope> =>
  protectOn(target, options, resetHeld(target, options, laneApplicationName))

const protectOn = <E>(
  target: DsnGuard.VerifiedTarget,
  options: Options,
  reset: Effect.Effect<{ readonly held: Run.Held; readonly ctx: Steps.Context; readonly result: ResetResult }, E, Scope.Scope>
): Effect.Effect<ProtectedReset, E | DatabaseResetError, Scope.Scope> =>
  Effect.gen(function*() {
    const { ctx, held, result } = yield* reset
    const record = Run.recorder(options.onStep)
    const protect = Run.protect(held, ctx, options.heartbeat ?? Duration.seconds(5), (failure) => errorOf(ctx, failure))
    const protection: Protection = yield* record.step("protect", protect, (p) => `shared lock held by pid ${p.pid} until the lane ends`).pipe(
      Effect.mapError((failure) => errorOf(ctx, failure))
    )
    // after the lock is shared: the deferred work runs under it, on its own session, while the tests run
    if (options.deferred !== "leave") {
      const own = openSession(ctx, target, options, `${applicationName} deferred work`)
      yield* Run.deferOn(held, ctx, { ...deferOptions(target, options), own })
    }
    return { result: { ...result, steps: [...result.steps, ...record.steps] }, protection }
  })

/** Resets with the options from the lane's environment (`WORKFLOW_LIVE_*`), overridable. */
export const fromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Effect.flatMap(optionsFromConfig(overrides), (options) => reset(target, options))

/** {@link finishDeferred} with the options from the lane's environment, overridable. */
export const finishDeferredFromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<string, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Effect.flatMap(optionsFromConfig(overrides), (options) => finishDeferred(target, options))

/** {@link resetAndProtect} with the options from the lane's environment, overridable. */
export const protectFromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<ProtectedReset, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig | Scope.Scope> =>
  Effect.flatMap(optionsFromConfig(overrides), (options) => resetAndProtect(target, options))

/** {@link prepare} with the options from the lane's environment, overridable. */
export const prepareFromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<Prepared, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig | Scope.Scope> =>
  Effect.flatMap(optionsFromConfig(overrides), (options) => prepare(target, options))

const optionsFromConfig = (overrides: Options) =>
  Effect.map(WorkflowLiveConfig.WorkflowLiveConfig, (config): Options => ({
    migrationsDirectory: Option.getOrUndefined(config.migrationsDirectory),
    confirmDrop: Option.getOrUndefined(config.confirmDrop),
    lockTimeout: config.lockTimeout,
    ...overrides
  }))

/** Resets the verified target's database when the layer is built; the deferred work runs while it is used. */
export const layer = (
  options: Options = {}
): Layer.Layer<never, DatabaseResetError | Migrations.MigrationsError, DsnGuard.VerifiedTarget> =>
  Layer.scopedDiscard(Effect.flatMap(DsnGuard.VerifiedTarget, (target) => resetScoped(target, options)))

/** Resets the verified target's database, with the options read from the environment. */
export const layerConfig = (
  overrides: Options = {}
): Layer.Layer<never, DatabaseResetError | Migrations.MigrationsError | ConfigError, DsnGuard.VerifiedTarget> =>
  Layer.scopedDiscard(
    Effect.flatMap(DsnGuard.VerifiedTarget, (target) =>
      Effect.flatMap(optionsFromConfig(overrides), (options) => resetScoped(target, options)))
  ).pipe(
    Layer.provide(WorkflowLiveConfig.layerConfig)
  )

/** The secrets of a target, to scrub from any text. */
export const secretsOf = (target: DsnGuard.VerifiedTarget): ReadonlyArray<string> =>
  target.connection.password === undefined ? [] : [Redacted.value(target.connection.password)]
