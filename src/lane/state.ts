/**
 * The lane's state and its phase runner: what a lane run is, what it knows so far, and how one phase is
 * timed, recorded and printed. `Lane.ts` is the facade; `prepare.ts` and `finish.ts` are its steps.
 */
import { Cause, Data, Effect, Ref } from "effect"
import type * as DsnGuard from "../DsnGuard.js"
import type * as ExternalCalls from "../ExternalCalls.js"
import { renderCause } from "../internal/render.js"
import type { LaneSignal } from "../internal/signals.js"
import { firstLine } from "../internal/terminal.js"
import * as LaneReport from "../LaneReport.js"
import type * as LeakCheck from "../LeakCheck.js"
import type * as Preflight from "../Preflight.js"
import type * as RunId from "../RunId.js"
import * as Progress from "./progress.js"

/** The lane failed in one of its phases; `detail` is that phase's full message (what, why, fix). */
export class LaneError extends Data.TaggedError("LaneError")<{
  readonly phase: LaneReport.PhaseName
  readonly detail: string
}> {
  override get message(): string {
    return `workflow-live run failed in phase \`${this.phase}\`: ${this.detail}`
  }
}

/** How a lane runs. */
export interface Options {
  /** Where report.json, junit.xml and summary.md go: an existing, writable directory (see `LaneInput`). */
  readonly reportDir: string
  /** Colour the terminal lines. Default: stdout is a TTY and `NO_COLOR` is unset. */
  readonly colour: boolean
  /** Where the lane's lines go. Default: stdout. */
  readonly print?: ((line: string) => Effect.Effect<void>) | undefined
  /** Passed to preflight (its spec: the env, APIs and database capabilities the suites need). */
  readonly preflight?: Omit<Preflight.Options, "reportDir"> | undefined
  /** How the tests' HTTP calls are answered and what they may spend (default: live, no budget). */
  readonly external?: ExternalCalls.Settings | undefined
  /**
   * Set when the database is thrown away after the run (the demo's throwaway server): an interrupted
   * lane then does not sweep, and says why.
   */
  readonly disposable?: string | undefined
  /** `failed`: leave the rows of failed tests in place and report them. Default: `WORKFLOW_LIVE_KEEP`, else `none`. */
  readonly keep?: "none" | "failed" | undefined
}

/** What keeps other lanes' resets away while the tests run; `lost` fails the moment that protection is gone. */
export interface Protection {
  readonly lost: Effect.Effect<never, unknown>
}

/** What the lane knows so far. */
export interface Snapshot {
  readonly phases: ReadonlyArray<LaneReport.Phase>
  readonly runId: RunId.RunIdString | undefined
  readonly target: DsnGuard.VerifiedTarget | undefined
  /** Set when preflight skipped the lane: every live test reports as skipped. */
  readonly skip: string | undefined
  /** The protection held while the tests run; set once the lane is ready for its tests. */
  readonly protection: Protection | undefined
  readonly earlier: LaneReport.Earlier | undefined
  /** The run's recorder and ledger, started once the lane is protected. */
  readonly external: ExternalCalls.Run | undefined
  /** The point after the reset from which every row is the run's (for the leak check and the sweep). */
  readonly baseline: LeakCheck.Baseline | undefined
  /** The phase that stopped the lane, with its full message. */
  readonly stopped: LaneError | undefined
}

/**
 * The lane's clock, on `performance.now()`'s scale: `origin` is where the lane's time starts (0, Node's
 * own start, when the CLI recorded its start and load), `last` where the last recorded phase ended. Each
 * phase is timed from the end of the one before, so the phases add up to the lane's whole time.
 */
export interface Clock {
  readonly origin: number
  readonly last: number
}

/** A lane run: its options, its clock, and what its phases found. */
export interface Lane {
  readonly options: Options
  readonly clock: Ref.Ref<Clock>
  readonly state: Ref.Ref<Snapshot>
}

/** A new lane run; nothing runs yet. */
export const make = (options: Options): Effect.Effect<Lane> =>
  Effect.map(
    Ref.make<Snapshot>({
      phases: [],
      runId: undefined,
      target: undefined,
      skip: undefined,
      protection: undefined,
      earlier: undefined,
      external: undefined,
      baseline: undefined,
      stopped: undefined
    }),
    (state) => {
      const now = performance.now()
      return { options, clock: Ref.unsafeMake<Clock>({ origin: now, last: now }), state }
    }
  )

/** Milliseconds since the last recorded phase ended (or the lane started). */
export const sinceLastPhase = (lane: Lane): Effect.Effect<number> =>
  Effect.map(Ref.get(lane.clock), (clock) => performance.now() - clock.last)

/** What the lane knows so far. */
export const snapshot = (lane: Lane): Effect.Effect<Snapshot> => Ref.get(lane.state)

/** Whether the tests may run: prepared, and not stopped. */
export const isReady = (snap: Snapshot): boolean => snap.stopped === undefined && (snap.protection !== undefined || snap.skip !== undefined)

export const update = (lane: Lane, change: Partial<Snapshot>): Effect.Effect<void> =>
  Ref.update(lane.state, (s) => ({ ...s, ...change }))

export const print = (lane: Lane, line: string): Effect.Effect<void> =>
  lane.options.print === undefined
    ? Effect.sync(() => {
      Progress.settle()
      process.stdout.write(`${line}\n`)
    })
    : lane.options.print(line)

/** Shows what the lane is doing now (see `progress.ts`): an updating line on a TTY, else a plain line. */
export const progress = (lane: Lane, text: string): Effect.Effect<void> =>
  Effect.suspend(() =>
    Progress.canUpdate(lane.options.print !== undefined)
      ? Effect.sync(() => Progress.update(text, lane.options.colour))
      : print(lane, Progress.line(text))
  )

/**
 * Records a phase that ends now (or at `end`, on `performance.now()`'s scale) and prints its line. Its time
 * runs from the end of the phase before; the next phase's runs from here.
 */
export const record = (lane: Lane, found: Omit<LaneReport.Phase, "ms">, end?: number): Effect.Effect<void> =>
  Effect.flatMap(
    Ref.modify(lane.clock, (clock) => {
      const at = end ?? performance.now()
      return [{ ...found, ms: at - clock.last }, { ...clock, last: at }] as const
    }),
    (phase) =>
      Effect.zipRight(
        Ref.update(lane.state, (s) => ({ ...s, phases: [...s.phases, phase] })),
        print(lane, LaneReport.renderPhase(phase, lane.options.colour))
      )
  )

/** What a phase found: its status and line. */
export interface Found {
  readonly status: LaneReport.PhaseStatus
  readonly detail: string
}

export const found = (detail: string, status: LaneReport.PhaseStatus = "pass"): Found => ({ status, detail })

/**
 * Runs one phase: times it (from the end of the phase before, so the lane's bookkeeping between phases is
 * counted too), records and prints its line, and turns its failure into a {@link LaneError} naming the
 * phase. An interrupted phase is recorded as such and the interruption goes on.
 */
export const phase = <A, E, R>(
  lane: Lane,
  name: LaneReport.PhaseName,
  effect: Effect.Effect<A, E, R>,
  describe: (a: A) => Found
): Effect.Effect<A, LaneError, R> =>
  Effect.suspend(() => {
    const announce = Effect.flatMap(snapshot(lane), (snap) => {
      const text = Progress.phaseText(name, snap.target?.database)
      return text === undefined ? Effect.void : progress(lane, text)
    })
    return Effect.zipRight(announce, effect).pipe(
      Effect.onExit((exit) => {
        if (exit._tag === "Success") return record(lane, { name, ...describe(exit.value) })
        const interrupted = Cause.isInterruptedOnly(exit.cause)
        return record(lane, { name, status: "fail", detail: interrupted ? "interrupted" : firstLine(renderCause(exit.cause)) })
      }),
      Effect.catchAllCause((cause) => Effect.fail(new LaneError({ phase: name, detail: renderCause(cause) })))
    )
  })

/** What happened to the tests, as the caller that ran them saw it. */
export type TestsOutcome =
  /** The lane stopped (or was skipped) before any test ran. */
  | { readonly _tag: "NotRun" }
  /** Vitest ran to the end. */
  | { readonly _tag: "Completed"; readonly tests: LaneReport.Tests; readonly ms: number }
  /** A signal stopped the lane; `tests` is what had finished. */
  | {
    readonly _tag: "Interrupted"
    readonly signal: LaneSignal | undefined
    readonly tests: LaneReport.Tests | null
    readonly ms: number
  }
  /**
   * The tests could not run or finish: Vitest did not start, or the lane lost its protection
   * (`unprotected`: another lane may own the database now, so this one neither leak-checks nor sweeps).
   */
  | {
    readonly _tag: "Failed"
    readonly message: string
    readonly unprotected: boolean
    readonly tests: LaneReport.Tests | null
    readonly ms: number
  }

