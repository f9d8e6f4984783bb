/**
 * A whole lane run with its tests in this process: `Lane.prepare`, the `workflow-live` Vitest project,
 * `Lane.finish`. Used by `workflow-live run` and `workflow-live demo`.
 *
 * Only the prepare phases and the tests can be interrupted: on SIGINT/SIGTERM Vitest is cancelled and
 * closed, and `Lane.finish` still runs (sweep, one message, the report), before the process exits 130/143.
 */
import { Effect, Exit, Runtime } from "effect"
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

const watchPass = (lane: Lane.Lane, tests: LaneReport.Tests, ms: number): Effect.Effect<void> =>
  Effect.zipRight(
    Lane.pass(lane, { _tag: "Completed", tests, ms }),
    Effect.sync(() => process.stdout.write("\n  watching for changes: the next pass starts on a change; Ctrl-C ends the lane\n\n"))
  )

/** Runs the tests of a prepared lane, racing them against the loss of the lane's protection. */
const runTests = (
  lane: Lane.Lane,
  snap: Lane.Snapshot,
  options: Options,
  restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    let progress: Start.Progress | undefined
    const started = performance.now()
    const runtime = yield* Effect.runtime<never>()
    // Vitest writes to the terminal from here on: its progress is plain lines, never an updating one
    const status = (line: string) => Runtime.runSync(runtime)(State.print(lane, line))
    status(Progress.line("starting Vitest (the workflow-live project)"))
    const tests = Start.run(
      {
        args: options.args,
        runId: snap.runId!,
        skip: snap.skip,
        http: snap.external?.provided,
        watch: options.args.watch,
        // a watch pass keeps nothing: the next pass creates the same keys again
        keep: options.args.watch ? "none" : Keep.mode(lane),
        status,
        // watch mode: each pass is judged, leak-checked, swept and reported before the next one starts
        onPass: options.args.watch ? (tests, ms) => Runtime.runPromise(runtime)(watchPass(lane, tests, ms)) : undefined
      },
      (p) => (progress = p)
    ).pipe(Effect.scoped)
    const lost = snap.protection === undefined
      ? Effect.never
      : Effect.mapError(snap.protection.lost, (error) => ({ _tag: "ProtectionLost", error }) as const)
    const guarded = Effect.raceFirst(tests, lost)
    const exit = yield* Effect.exit(restore(guarded))
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
      const prepared = yield* Effect.exit(restore(Lane.prepare(lane)))
      const snap = yield* Lane.snapshot(lane)
      const outcome: Lane.TestsOutcome = Exit.isFailure(prepared)
        ? { _tag: "Interrupted", signal: receivedSignal(), tests: null, ms: 0 }
        : Lane.isReady(snap)
        ? yield* runTests(lane, snap, options, restore)
        : { _tag: "NotRun" }
      const report = yield* Lane.finish(lane, outcome)
      setLaneExitCode(report.exitCode)
      return report
    }).pipe(Effect.scoped)
  )
