/**
 * The run of one reset, apart from its SQL: the step names and the recorder that times and reports each
 * step, the session the steps share, the deferred work forked after the reset under the session's lock, and
 * a lane's protection: that lock made shared and watched.
 */
import { Deferred, Duration, Effect, Exit, Fiber, type Scope } from "effect"
import type pg from "pg"
import { scrub } from "./redact.js"
import type { SessionInfo } from "./resetMessage.js"
import { downgrade, heartbeat, keepSessionOpen, releaseExclusive, releaseShared, watch } from "./resetLock.js"
import * as Steps from "./resetSteps.js"

/** The steps of a reset, in the order they run. */
export const stepNames = [
  "guard",
  "lock",
  "inspect",
  "swap",
  "drop",
  "create",
  "clone",
  "identity",
  "migrate",
  "template",
  "protect",
  "spare"
] as const

/** A step of a reset. */
export type StepName = typeof stepNames[number]

/** One finished step: its duration and what it found or did. */
export interface Step {
  readonly name: StepName
  readonly millis: number
  readonly detail: string
}

/** Called as each step finishes. */
export type OnStep = ((step: Step) => Effect.Effect<void>) | undefined

/** Records each step's duration (`Effect.timed`) and reports it. */
export const recorder = (onStep: OnStep) => {
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

/** What a reset did (`DatabaseReset.ResetResult`). */
export interface ResetResult {
  readonly database: string
  /** `warm`: the spare swapped in, or cloned from the template; `cold`: created empty and migrated. */
  readonly mode: "warm" | "cold"
  readonly template: string
  /** The spare renamed into place (a swap), if there was one. */
  readonly spare: string | undefined
  /** Migration files applied after the create or clone (none on a warm reset). */
  readonly applied: ReadonlyArray<string>
  /** Sessions that were connected to the database and terminated by the drop. */
  readonly terminated: ReadonlyArray<SessionInfo>
  readonly steps: ReadonlyArray<Step>
  readonly millis: number
}

/** How a reset is run (`DatabaseReset.Options`). Every field has a default. */
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
  readonly onStep?: OnStep
  /** Called once when the reset lock is held by others and the reset starts waiting, with who holds it. */
  readonly onLockWait?: ((holders: ReadonlyArray<SessionInfo>) => Effect.Effect<void>) | undefined
  /** How often a protecting session checks that it still holds its lock. Default 5 s. */
  readonly heartbeat?: Duration.DurationInput | undefined
  /** Keep a spare clone to swap in on the next reset (one more database's disk). Default true. */
  readonly spare?: boolean | undefined
  /**
   * `in-scope` (default): the deferred work runs on the reset's session as soon as the reset is done, under
   * its lock, and the scope's close waits for it. `leave`: it does not run here; the lock is released at
   * once and the caller hands the work to `DatabaseReset.finishDeferred` (the CLI, in a detached process).
   */
  readonly deferred?: "in-scope" | "leave" | undefined
}

/** The reset's own session: one reserved connection that every statement and the lock live on. */
export interface Held extends Steps.Session {
  readonly client: pg.Client
  readonly pid: number
}

/**
 * The deferred work, forked after the reset: on the reset's session, under the lock it holds (an exclusive
 * one is released when done), or, for a lane, on a session of its own (`own`), under the lane's shared lock,
 * which is released only after it: the lane's watched session then runs no long statement an error could
 * be reported to instead of the watcher. The scope's close waits for it, or interrupts it when the scope
 * is interrupted. It never fails: what it could not do, its step line says, and the next reset's deferred
 * work does again.
 */
export const deferOn = (
  held: Held,
  ctx: Steps.Context,
  options: {
    readonly spare: boolean
    readonly onStep: OnStep
    readonly own?: Effect.Effect<Held, Steps.StepFailure, Scope.Scope> | undefined
    readonly warm?: Steps.Warm | undefined
  }
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const record = recorder(options.onStep)
    const onOwn = options.own === undefined ? undefined : Effect.scoped(Effect.flatMap(options.own, (own) =>
      deferredWork(own, ctx, options.spare, options.warm))).pipe(Effect.catchAll(notDone(ctx)))
    const work = record.step("spare", onOwn ?? deferredWork(held, ctx, options.spare, options.warm), (detail) => detail).pipe(
      Effect.zipRight(Effect.suspend(() => held.locks.exclusive ? releaseNow(held, ctx) : Effect.void))
    )
    const fiber = yield* Effect.forkDaemon(work)
    yield* Effect.addFinalizer((exit) => Exit.isInterrupted(exit) ? Fiber.interrupt(fiber) : Fiber.await(fiber))
  })

const notDone = (ctx: Steps.Context) => (failure: Steps.StepFailure): Effect.Effect<string> =>
  Effect.succeed(`not done (${failure.reason} at ${failure.subject ?? ctx.database}): ${scrub(failure.detail ?? "", ctx.secrets)}`)

/** Drops what the reset retired and the stale spares, clones the next spare; what fails is said, not thrown. */
export const deferredWork = (held: Held, ctx: Steps.Context, spare: boolean, warm?: Steps.Warm): Effect.Effect<string> =>
  Steps.prepareSpare(held, ctx, spare, Steps.onFailure, warm).pipe(Effect.catchAll(notDone(ctx)))

const releaseNow = (held: Held, ctx: Steps.Context) =>
  Effect.ignore(releaseExclusive(held.sql, held.run, ctx.database)).pipe(
    Effect.zipRight(Effect.sync(() => (held.locks.exclusive = false)))
  )

/**
 * Step "protect": downgrades the exclusive lock on the same session and starts watching the session;
 * `lost` fails with `toError` of a `protection-lost` failure the moment the session is gone.
 */
export const protect = <E>(
  held: Held,
  ctx: Steps.Context,
  every: Duration.DurationInput,
  toError: (failure: Steps.StepFailure) => E
): Effect.Effect<{ readonly pid: number; readonly lost: Effect.Effect<never, E> }, Steps.StepFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const { run, sql } = held
    // only a session held for a lane's whole run needs shielding from idle timeouts (a reset's is never idle)
    yield* keepSessionOpen(sql, run).pipe(Steps.onFailure("protect", ctx.maintenance))
    yield* downgrade(sql, run, ctx.database).pipe(Steps.onFailure("protect", ctx.maintenance))
    held.locks.exclusive = false
    yield* Effect.addFinalizer(() => Effect.ignore(releaseShared(sql, run, ctx.database)))
    const lost = yield* Deferred.make<never, E>()
    const closed = Effect.raceFirst(watch(held.client), heartbeat(sql, run, ctx.database, every))
    yield* closed.pipe(
      Effect.flatMap((why) =>
        Deferred.fail(lost, toError(new Steps.StepFailure({
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
