/**
 * A whole lane run with its tests in this process: `Lane.prepare`, the `workflow-live` Vitest project,
 * `Lane.finish`. Used by `workflow-live run` and `workflow-live demo`.
 *
 * Vitest's own start (its import, config, projects) does not need the database: it runs while the reset
 * does (from the end of preflight), and the tests start once both are done. No worker starts and no test
 * file loads before the lane is prepared; a lane that stops there closes the unstarted Vitest, and no test
 * runs.
 *
 * Only the prepare phases and the tests can be interrupted: on SIGINT/SIGTERM Vitest is cancelled and
 * closed, and `Lane.finish` still runs (sweep, one message, the report), before the process exits 130/143.
 */
import { Effect, Exit, Fiber, Runtime, Scope } from "effect"
import * as Lane from "../Lane.js"
import * as Keep from "../lane/keep.js"
import * as Progress from "../lane/progress.js"
import * as State from "../lane/state.js"
import * as LaneReport from "../LaneReport.js"
import { setLaneExitCode } from "../internal/exitCode.js"
import { receivedSignal } from "../internal/signals.js"
import type { VitestArgs } from "./args.js"
import * as Start from "./start.js"

/** A lane run. */
export interface Options extends Lane.Options {
  readonly args: VitestArgs
}

type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

const watchPass = (lane: Lane.Lane, tests: LaneReport.Tests, ms: number): Effect.Effect<void> =>
  Effect.zipRight(
    Lane.pass(lane, { _tag: "Completed", tests, ms }),
    Effect.sync(() => process.stdout.write("\n  watching for changes: the next pass starts on a change; Ctrl-C ends the lane\n\n"))
  )

/** Creates Vitest in its own scope, in the background: the caller prepares the lane meanwhile. */
const startVitest = (lane: Lane.Lane, options: Options, scope: Scope.Scope, restore: Restore) =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    return yield* Effect.fork(restore(Scope.extend(
      Start.create({
        args: options.args,
        watch: options.args.watch,
        // Vitest writes to the terminal once its run starts: its progress is plain lines, never an updating one
        status: (line) => Runtime.runSync(runtime)(State.print(lane, line)),
        // watch mode: each pass is judged, leak-checked, swept and reported before the next one starts
        onPass: options.args.watch ? (tests, ms) => Runtime.runPromise(runtime)(watchPass(lane, tests, ms)) : undefined
      }),
      scope
    )))
  })

/** Runs the tests of a prepared lane, racing them against the loss of the lane's protection. */
const runTests = (
  lane: Lane.Lane,
  options: Options,
  snap: Lane.Snapshot,
  vitest: { readonly created: Effect.Effect<Start.Created, Start.VitestStartError>; readonly scope: Scope.CloseableScope },
  restore: Restore,
  started: number
) =>
  Effect.gen(function*() {
    let progress: Start.Progress | undefined
    yield* State.print(lane, Progress.line("starting Vitest (the workflow-live project)"))
    const handover = {
      runId: snap.runId!,
      skip: snap.skip,
      http: snap.external?.provided,
      // a watch pass keeps nothing: the next pass creates the same keys again
      keep: options.args.watch ? "none" as const : Keep.mode(lane)
    }
    const tests = Effect.flatMap(vitest.created, (created) => Start.run(created, handover, (p) => (progress = p))).pipe(
        Scope.extend(vitest.scope),
        // Vitest is closed before the lane goes on: its workers are gone before the leak check and the sweep
        Effect.ensuring(Scope.close(vitest.scope, Exit.void))
      )
    const lost = snap.protection === undefined
      ? Effect.never
      : Effect.mapError(snap.protection.lost, (error) => ({ _tag: "ProtectionLost", error }) as const)
    // in a fiber of its own: interrupting it (Ctrl-C) waits for it to end, and it ends only once its
    // children have (the cancel of Vitest included), so the lane goes on to the sweep with Vitest stopped
    const race = yield* Effect.fork(restore(Effect.raceFirst(tests, lost)))
    const exit = yield* Effect.exit(restore(Fiber.join(race)).pipe(Effect.onInterrupt(() => Fiber.interrupt(race))))
    const ms = performance.now() - started
    if (Exit.isSuccess(exit)) return { _tag: "Completed", tests: exit.value, ms } as const
    if (Exit.isInterrupted(exit)) {
      return { _tag: "Interrupted", signal: receivedSignal(), tests: progress?.current() ?? null, ms } as const
    }
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    const unprotected = failure?._tag === "ProtectionLost"
    const error: unknown = unprotected ? failure.error : failure
    const message = error instanceof Error ? error.message : String(error ?? exit.cause)
    return { _tag: "Failed", message, unprotected, tests: progress?.current() ?? LaneReport.noTests, ms } as const
  })

/**
 * The lane, end to end. The report says how it ended; its `exitCode` is recorded as the process's
 * (Vitest sets `process.exitCode` on its own, and must not have the last word).
 */
export const run = (options: Options): Effect.Effect<LaneReport.Report> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const lane = yield* Lane.make(options)
      yield* Lane.scrubOutput(lane)
      yield* Lane.recordStart(lane)
      // closed by the lane's steps (the exit phase, the end of the tests); on a defect, by the outer scope
      const laneScope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
      const vitestScope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
      // Vitest is started once preflight has passed, so that its ~0.3 s of work on this thread overlaps the
      // reset's wait on the server rather than delaying preflight's many small answers
      let fiber: Fiber.Fiber<Start.Created, Start.VitestStartError> | undefined
      const startTests = Effect.map(startVitest(lane, options, vitestScope, restore), (f) => void (fiber = f))
      const prepared = yield* Effect.exit(restore(Scope.extend(Lane.prepare(lane, startTests), laneScope)))
      const snap = yield* Lane.snapshot(lane)
      const ready = Exit.isSuccess(prepared) && Lane.isReady(snap)
      if (!ready) {
        // no test may run: the unstarted Vitest is closed (once its creation, if still going, has ended)
        if (fiber !== undefined) yield* Fiber.interrupt(fiber)
        yield* Scope.close(vitestScope, Exit.void)
      }
      const outcome: Lane.TestsOutcome = Exit.isFailure(prepared)
        ? { _tag: "Interrupted", signal: receivedSignal(), tests: null, ms: 0 }
        : ready
        ? yield* runTests(lane, options, snap, {
          created: fiber === undefined ? Effect.dieMessage("Vitest was not started after preflight") : Fiber.join(fiber),
          scope: vitestScope
        }, restore, performance.now() - (yield* Lane.sinceLastPhase(lane)))
        : { _tag: "NotRun" }
      const report = yield* Lane.finish(lane, outcome, Scope.close(laneScope, Exit.void))
      setLaneExitCode(report.exitCode)
      return report
    }).pipe(Effect.scoped)
  )
