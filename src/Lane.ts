/**
 * The lane's lifecycle, in one place. `workflow-live run`, `workflow-live demo` and the Vitest global
 * setup (when Vitest is started directly) all go through it:
 *
 *     (start)   Node's start and the CLI's load, when the CLI started the lane (`recordStart`)
 *     prepare   run id -> guard -> preflight -> reset -> protect (the reset's session and migrations are
 *               made ready while preflight runs: `DatabaseReset.prepare`)
 *     (tests)   Vitest, started by the caller (its start may overlap prepare: nothing there needs the database)
 *     finish    verdict -> leak check -> sweep -> exit (the lane's resources released) -> report
 *
 * Each phase hands its value to the next (the run ID, the verified target, the preflight verdict, the
 * protection); nothing travels through environment variables. Every phase is recorded as it ends and
 * printed as one line, timed from the end of the phase before, so the phases add up to the lane's time;
 * {@link finish} renders the whole run as one {@link LaneReport.Report}.
 */
import { Effect, Ref, type Scope } from "effect"
import * as SecretScrub from "./internal/secretScrub.js"
import * as LaneReport from "./LaneReport.js"
import * as Finish from "./lane/finish.js"
import * as Prepare from "./lane/prepare.js"
import * as State from "./lane/state.js"
import { type Lane, LaneError, update } from "./lane/state.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

export { isReady, LaneError, make, sinceLastPhase, snapshot } from "./lane/state.js"
export { recordStart } from "./lane/prepare.js"
export type { Lane, Options, Protection, Snapshot, TestsOutcome } from "./lane/state.js"

/**
 * Replaces the secrets the lane knows in everything this process writes (its lines, Vitest's reporter, a
 * test's console output) until the scope closes; the report value is scrubbed in {@link finish}.
 */
export const scrubOutput = (lane: Lane): Effect.Effect<void, never, Scope.Scope> =>
  SecretScrub.scrubOutput(Finish.secrets(lane))

/** The phases of a lane, in order. */
export const phaseNames = LaneReport.phaseNames

const prepareSteps = (lane: Lane, afterPreflight: Effect.Effect<void>): Effect.Effect<void, LaneError, Scope.Scope> =>
  Effect.gen(function*() {
    const runId = yield* Prepare.resolveRunId(lane)
    const target = yield* Prepare.guard(lane)
    // the reset's session connects and the migrations are read while preflight runs
    const ahead = target === undefined ? undefined : yield* Prepare.ahead(lane, target)
    const checked = yield* Prepare.preflight(lane)
    yield* afterPreflight
    if (checked.verdict === "skip") return yield* update(lane, { skip: checked.skipReason ?? "skipped by preflight" })
    if (target === undefined || ahead === undefined) {
      return yield* new LaneError({ phase: "guard", detail: `${WorkflowLiveConfig.dsnVariable} is not set.` })
    }
    const reset = yield* Prepare.reset(lane, ahead)
    const { baseline, protection } = yield* Prepare.protect(lane, reset, target, runId)
    const external = yield* Prepare.external(lane, target)
    yield* update(lane, { protection, baseline, external })
  })

/**
 * Runs the lane's first phases: run id, guard, preflight, reset, protect. Never fails: a failed phase
 * is recorded (`snapshot(lane).stopped`) for {@link finish} to report. The protection lives in the
 * scope: keep it open until `finish` is done. `afterPreflight` runs once preflight passed or skipped,
 * before the reset (the CLI starts Vitest there, to overlap the reset's wait on the server).
 */
export const prepare = (lane: Lane, afterPreflight: Effect.Effect<void> = Effect.void): Effect.Effect<void, never, Scope.Scope> =>
  prepareSteps(lane, afterPreflight).pipe(Effect.catchAll((stopped) => update(lane, { stopped })))

/**
 * Ends the lane: the verdict from the tests' outcome, the leak check and the sweep, `release` (closing the
 * scope of {@link prepare}: the lane's lock and connections) timed as the `exit` phase, the report. Call it
 * before that scope closes otherwise: the sweep runs under the lane's protection.
 */
export const finish = (
  lane: Lane,
  tests: State.TestsOutcome,
  release?: Effect.Effect<void> | undefined
): Effect.Effect<LaneReport.Report> =>
  Effect.gen(function*() {
    yield* Finish.verdict(lane, tests, yield* State.snapshot(lane))
    const cleaned = yield* Finish.cleanUp(lane, tests, yield* State.snapshot(lane))
    if (release !== undefined) yield* Finish.exit(lane, release)
    return yield* Finish.report(lane, tests, cleaned)
  })

/**
 * One pass of a lane in watch mode: the same verdict, leak check, sweep and report as {@link finish}, on a
 * copy of the prepared lane, which stays prepared (reset once, protected) for the next pass. A pass keeps
 * nothing: the next pass creates the same keys again, so a failed test's rows must not stay.
 */
export const pass = (lane: Lane, tests: State.TestsOutcome & { readonly _tag: "Completed" }): Effect.Effect<LaneReport.Report> =>
  Effect.flatMap(Ref.get(lane.state), (prepared) =>
    Effect.flatMap(Ref.make(prepared), (state) => {
      // a pass's time is its own: from the start of its tests
      const passStart = performance.now() - tests.ms
      const clock = Ref.unsafeMake({ origin: passStart, last: passStart })
      return finish({ ...lane, options: { ...lane.options, keep: "none" }, state, clock }, tests)
    }))
