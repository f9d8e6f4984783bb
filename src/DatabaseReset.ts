/**
 * The reset: drop, create (or clone the migrations' template), mark, migrate and identity-check the
 * workflow database. It only accepts a {@link DsnGuard.VerifiedTarget}, takes a server-wide advisory
 * lock per database, and may only ever drop two kinds of names: the target's database and its own
 * `<database>__tpl_<hash>` templates. A lane keeps the lock (shared) while its tests run:
 * {@link resetAndProtect}.
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Data, Deferred, Duration, Effect, Layer, Option, Redacted, type Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { join } from "node:path"
import type pg from "pg"
import * as DsnGuard from "./DsnGuard.js"
import { type Inventory, inventorySql, toInventory } from "./internal/databaseInventory.js"
import { classify } from "./internal/pgError.js"
import { scrub } from "./internal/redact.js"
import * as ResetLock from "./internal/resetLock.js"
import { type MessageFields, resetMessage, resetReasons, type SessionInfo } from "./internal/resetMessage.js"
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
export const stepNames = ["guard", "lock", "inspect", "drop", "create", "clone", "identity", "migrate", "template", "protect"] as const

/** A step of a reset. */
export type StepName = typeof stepNames[number]

/** One finished step: its duration and what it found or did. */
export interface Step {
  readonly name: StepName
  readonly millis: number
  readonly detail: string
}

/** A session connected to a database, as `pg_stat_activity` shows it. */
export type Session = SessionInfo

/** What a reset did. */
export interface ResetResult {
  readonly database: string
  /** `warm`: cloned from the template; `cold`: created empty and migrated. */
  readonly mode: "warm" | "cold"
  readonly template: string
  /** Migration files applied after the create or clone (none on a warm reset). */
  readonly applied: ReadonlyArray<string>
  /** Sessions that were connected to the database and terminated by the drop. */
  readonly terminated: ReadonlyArray<Session>
  readonly steps: ReadonlyArray<Step>
  readonly millis: number
}

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
export interface Options {
  /** The `NNNN_name.sql` directory. Default: the package's `migrations/`. */
  readonly migrationsDirectory?: string | undefined
  /** Must equal the database name to drop an unmarked database that is not empty. */
  readonly confirmDrop?: string | undefined
  /** How long to wait for another reset's lock (or a running lane). Default 60 s. */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** Connect timeout of every connection. Default: the DSN's `connect_timeout`, else 5 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The database to issue CREATE/DROP DATABASE from. Default `postgres`. */
  readonly maintenanceDatabase?: string | undefined
  /** Called as each step finishes, for progress output. */
  readonly onStep?: ((step: Step) => Effect.Effect<void>) | undefined
  /** How often a protecting session checks that it still holds its lock. Default 5 s. */
  readonly heartbeat?: Duration.DurationInput | undefined
}

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

/** Records each step's duration (`Effect.timed`) and reports it. */
const recorder = (onStep: Options["onStep"]) => {
  const steps: Array<Step> = []
  const step = <A, E, R>(name: StepName, effect: Effect.Effect<A, E, R>, detail: (a: A) => string) =>
    Effect.timed(effect).pipe(
      Effect.flatMap(([duration, a]) => {
        const done: Step = { name, millis: Duration.toMillis(duration), detail: detail(a) }
        steps.push(done)
        return Effect.as(onStep === undefined ? Effect.void : onStep(done), a)
      })
    )
  return { steps, step }
}

/** The reset's own session: one reserved connection that every statement and the lock live on. */
interface Held extends Steps.Session {
  readonly client: pg.Client
  readonly pid: number
}

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
      harnessVersion: set.harnessVersion
    }
    if (Buffer.byteLength(ctx.template) > 63) {
      return yield* new Steps.StepFailure({ reason: "name-too-long", step: "guard", subject: ctx.template })
    }
    return { ctx, set }
  })

/** Opens the maintenance session, kept open (no idle timeout may end it) until the scope closes. */
const openSession = (
  ctx: Steps.Context,
  target: DsnGuard.VerifiedTarget,
  options: Options,
  name: string
): Effect.Effect<Held, Steps.StepFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const clients: Array<pg.Client> = []
    const sql = yield* LaneDatabase.open(target, {
      database: ctx.maintenance,
      applicationName: name,
      maxConnections: 1,
      connectTimeout: options.connectTimeout,
      idleTimeout: Duration.zero,
      keepAlive: true,
      onConnect: (client) => clients.push(client)
    }).pipe(on("lock", ctx.maintenance))
    const run = ResetLock.runOn(yield* on("lock", ctx.maintenance)(sql.reserve))
    yield* ResetLock.keepSessionOpen(sql, run).pipe(on("lock", ctx.maintenance))
    const [row] = yield* run(sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`).pipe(on("lock", ctx.maintenance))
    return { sql, run, client: clients[clients.length - 1]!, pid: row?.pid ?? 0, locks: { exclusive: false } }
  })

/** What an unmarked database holds, read on a connection to it; what cannot be read counts as something. */
const inventory = (target: DsnGuard.VerifiedTarget, options: Options): Effect.Effect<Inventory, Steps.StepFailure> =>
  Effect.scoped(
    LaneDatabase.open(target, { applicationName, maxConnections: 1, connectTimeout: options.connectTimeout }).pipe(
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
  step: ReturnType<typeof recorder>["step"]
) =>
  Effect.scoped(Effect.gen(function*() {
    // one connection: a second would cost as much as the clone itself
    const client = yield* LaneDatabase.open(target, { applicationName, maxConnections: 1, connectTimeout: options.connectTimeout })
      .pipe(on("identity", ctx.database))
    yield* step("identity", checkIdentity(client, ctx), (actual) => `current_database() = ${actual} on a fresh connection`)
    // on a warm reset the Migrator must find nothing to do
    return yield* step("migrate", migrate(client, set, warm), (applied) =>
      `${applied.length} applied${applied.length === 0 ? "" : ` (${applied.map((m) => m.file).join(", ")})`}`)
  }))

const checkIdentity = (client: PgClient.PgClient, ctx: Steps.Context) =>
  client<{ db: string }>`SELECT current_database() AS db`.pipe(
    on("identity", ctx.database),
    Effect.flatMap(([row]) =>
      row?.db === ctx.database
        ? Effect.succeed(row.db)
        : Effect.fail(new Steps.StepFailure({ reason: "identity-mismatch", step: "identity", subject: row?.db ?? "(no row)" }))
    )
  )

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
  held: Held,
  target: DsnGuard.VerifiedTarget,
  planned: Effect.Effect.Success<ReturnType<typeof plan>>,
  options: Options,
  record: ReturnType<typeof recorder>
) =>
  Effect.gen(function*() {
    const { ctx, set } = planned
    const timeout = options.lockTimeout ?? WorkflowLiveConfig.defaultLockTimeout
    yield* record.step("lock", Steps.lock(held, ctx, timeout, on), (waited) => waited > 50 ? `acquired after waiting ${Math.round(waited)} ms` : "acquired")
    const found = yield* record.step("inspect", Steps.inspect(held, ctx, options.confirmDrop, inventory(target, options), on), Steps.describeFound)
    yield* record.step("drop", Steps.drop(held, ctx, found, on), (dropped) => dropped)
    yield* record.step(found.warm ? "clone" : "create", Steps.create(held, ctx, found.warm, on), (detail) => detail)
    const applied = yield* identityAndMigrate(target, ctx, set, options, found.warm, record.step)
    if (!found.warm) yield* record.step("template", Steps.keepTemplate(held, ctx, found, on), (detail) => detail)
    return {
      database: ctx.database,
      mode: found.warm ? "warm" : "cold",
      template: ctx.template,
      applied: applied.map((m) => m.file),
      terminated: found.connected,
      steps: record.steps,
      millis: 0
    } satisfies ResetResult
  })

/** Guard, session, reset; the exclusive lock is held, on the returned session, until the scope closes. */
const resetHeld = (
  target: DsnGuard.VerifiedTarget,
  options: Options,
  sessionName: string
): Effect.Effect<
  { readonly held: Held; readonly ctx: Steps.Context; readonly result: ResetResult },
  DatabaseResetError | Migrations.MigrationsError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const record = recorder(options.onStep)
    const verified = yield* DsnGuard.assertVerified(target)
    const [took, done] = yield* Effect.timed(Effect.gen(function*() {
      const planned = yield* record.step("guard", plan(verified, options), (p) =>
        `${p.ctx.database} on ${p.ctx.where}; ${p.set.migrations.length} migrations, hash ${p.set.hash}`)
      const held = yield* openSession(planned.ctx, verified, options, sessionName)
      return { held, ctx: planned.ctx, result: yield* resetOn(held, verified, planned, options, record) }
    }))
    return { ...done, result: { ...done.result, millis: Duration.toMillis(took) } }
  }).pipe(
    Effect.mapError((error) => error instanceof Steps.StepFailure ? errorOf(contextOf(target, options), error) : error)
  )

/**
 * Resets the verified target's database. Requires a target from {@link DsnGuard.verify}: no other value,
 * and no other name, is accepted.
 */
export const reset = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError> =>
  Effect.scoped(Effect.map(resetHeld(target, options, applicationName), ({ result }) => result))

/**
 * Resets the database and keeps every other reset of it waiting until the scope closes: the lock the
 * reset took exclusively becomes shared on the same session, with no moment in between, and the session
 * is kept open and watched. A lane holds it while its tests run and races them against `lost`.
 */
export const resetAndProtect = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<ProtectedReset, DatabaseResetError | Migrations.MigrationsError, Scope.Scope> =>
  Effect.gen(function*() {
    const { ctx, held, result } = yield* resetHeld(target, options, laneApplicationName)
    const record = recorder(options.onStep)
    const protection = yield* record.step("protect", protectOn(held, ctx, options), (p) =>
      `shared lock held by pid ${p.pid} until the lane ends`).pipe(
      Effect.mapError((failure) => errorOf(ctx, failure))
    )
    return { result: { ...result, steps: [...result.steps, ...record.steps] }, protection }
  })

/** Step "protect": downgrades the exclusive lock on the same session and starts watching the session. */
const protectOn = (held: Held, ctx: Steps.Context, options: Options): Effect.Effect<Protection, Steps.StepFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const { run, sql } = held
    yield* ResetLock.downgrade(sql, run, ctx.database).pipe(on("protect", ctx.maintenance))
    held.locks.exclusive = false
    yield* Effect.addFinalizer(() => Effect.ignore(ResetLock.releaseShared(sql, run, ctx.database)))
    const lost = yield* Deferred.make<never, DatabaseResetError>()
    const closed = Effect.raceFirst(
      ResetLock.watch(held.client),
      ResetLock.heartbeat(sql, run, ctx.database, options.heartbeat ?? Duration.seconds(5))
    )
    yield* closed.pipe(
      Effect.flatMap((why) =>
        Deferred.fail(lost, errorOf(ctx, new Steps.StepFailure({
          reason: "protection-lost",
          step: "protect",
          subject: ctx.maintenance,
          found: `${why.why} (session pid ${held.pid})`,
          code: why.code
        })))
      ),
      Effect.forkScoped
    )
    return { pid: held.pid, lost: Deferred.await(lost) }
  })

/** Resets with the options from the lane's environment (`WORKFLOW_LIVE_*`), overridable. */
export const fromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Effect.flatMap(optionsFromConfig(overrides), (options) => reset(target, options))

/** {@link resetAndProtect} with the options from the lane's environment, overridable. */
export const protectFromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<ProtectedReset, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig | Scope.Scope> =>
  Effect.flatMap(optionsFromConfig(overrides), (options) => resetAndProtect(target, options))

const optionsFromConfig = (overrides: Options) =>
  Effect.map(WorkflowLiveConfig.WorkflowLiveConfig, (config): Options => ({
    migrationsDirectory: Option.getOrUndefined(config.migrationsDirectory),
    confirmDrop: Option.getOrUndefined(config.confirmDrop),
    lockTimeout: config.lockTimeout,
    ...overrides
  }))

/** Resets the verified target's database when the layer is built. */
export const layer = (
  options: Options = {}
): Layer.Layer<never, DatabaseResetError | Migrations.MigrationsError, DsnGuard.VerifiedTarget> =>
  Layer.effectDiscard(Effect.flatMap(DsnGuard.VerifiedTarget, (target) => reset(target, options)))

/** Resets the verified target's database, with the options read from the environment. */
export const layerConfig = (
  overrides: Options = {}
): Layer.Layer<never, DatabaseResetError | Migrations.MigrationsError | ConfigError, DsnGuard.VerifiedTarget> =>
  Layer.effectDiscard(Effect.flatMap(DsnGuard.VerifiedTarget, (target) => fromConfig(target, overrides))).pipe(
    Layer.provide(WorkflowLiveConfig.layerConfig)
  )

/** The secrets of a target, to scrub from any text. */
export const secretsOf = (target: DsnGuard.VerifiedTarget): ReadonlyArray<string> =>
  target.connection.password === undefined ? [] : [Redacted.value(target.connection.password)]
