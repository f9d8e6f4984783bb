/**
 * The lane's lifecycle, in one place. `workflow-live run`, `workflow-live demo` and the Vitest global
 * setup (when Vitest is started directly) all go through it:
 *
 *     prepare   run id -> guard -> preflight -> reset -> protect
 *     (tests)   Vitest, started by the caller
 *     finish    verdict -> leak check -> sweep -> report
 *
 * Each phase hands its value to the next (the run ID, the verified target, the preflight verdict, the
 * protection); nothing travels through environment variables. Every phase is recorded as it ends and
 * printed as one line, and {@link finish} renders the whole run as one {@link LaneReport.Report}.
 */
import { Cause, Data, Effect, Option, Ref, type Scope } from "effect"
import * as DatabaseReset from "./DatabaseReset.js"
import * as DsnGuard from "./DsnGuard.js"
import * as ExternalCalls from "./ExternalCalls.js"
import { renderCause } from "./internal/render.js"
import type { LaneSignal } from "./internal/signals.js"
import { exitCodeFor } from "./internal/signals.js"
import { firstLine } from "./internal/terminal.js"
import * as LaneReport from "./LaneReport.js"
import * as LeakCheck from "./LeakCheck.js"
import * as Preflight from "./Preflight.js"
import * as RunId from "./RunId.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

/** The phases of a lane, in order. */
export const phaseNames = LaneReport.phaseNames

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

/** A lane run: its options, when it started, and what its phases found. */
export interface Lane {
  readonly options: Options
  readonly startedAt: Date
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
    (state) => ({ options, startedAt: new Date(), state })
  )

/** What the lane knows so far. */
export const snapshot = (lane: Lane): Effect.Effect<Snapshot> => Ref.get(lane.state)

/** Whether the tests may run: prepared, and not stopped. */
export const isReady = (snap: Snapshot): boolean => snap.stopped === undefined && (snap.protection !== undefined || snap.skip !== undefined)

const update = (lane: Lane, change: Partial<Snapshot>): Effect.Effect<void> =>
  Ref.update(lane.state, (s) => ({ ...s, ...change }))

const print = (lane: Lane, line: string): Effect.Effect<void> =>
  lane.options.print === undefined ? Effect.sync(() => process.stdout.write(`${line}\n`)) : lane.options.print(line)

/** Records a finished phase and prints its line. */
const record = (lane: Lane, phase: LaneReport.Phase): Effect.Effect<void> =>
  Effect.zipRight(
    Ref.update(lane.state, (s) => ({ ...s, phases: [...s.phases, phase] })),
    print(lane, LaneReport.renderPhase(phase, lane.options.colour))
  )

/** What a phase found: its status and line. */
interface Found {
  readonly status: LaneReport.PhaseStatus
  readonly detail: string
}

const found = (detail: string, status: LaneReport.PhaseStatus = "pass"): Found => ({ status, detail })

/**
 * Runs one phase: times it, records and prints its line, and turns its failure into a {@link LaneError}
 * naming the phase. An interrupted phase is recorded as such and the interruption goes on.
 */
const phase = <A, E, R>(
  lane: Lane,
  name: LaneReport.PhaseName,
  effect: Effect.Effect<A, E, R>,
  describe: (a: A) => Found
): Effect.Effect<A, LaneError, R> =>
  Effect.suspend(() => {
    const started = performance.now()
    const ms = () => performance.now() - started
    return effect.pipe(
      Effect.onExit((exit) => {
        if (exit._tag === "Success") return record(lane, { name, ms: ms(), ...describe(exit.value) })
        const interrupted = Cause.isInterruptedOnly(exit.cause)
        return record(lane, { name, status: "fail", ms: ms(), detail: interrupted ? "interrupted" : firstLine(renderCause(exit.cause)) })
      }),
      Effect.catchAllCause((cause) => Effect.fail(new LaneError({ phase: name, detail: renderCause(cause) })))
    )
  })

// ------------------------------------------------------------------------------------------------
// prepare: run id -> guard -> preflight -> reset -> protect
// ------------------------------------------------------------------------------------------------

const resolveRunId = (lane: Lane) =>
  phase(lane, "run id", RunId.resolve, (id) => found(id)).pipe(Effect.tap((runId) => update(lane, { runId })))

/**
 * The guard, before anything connects. A DSN that is not set is a missing variable like the others:
 * preflight decides (fail, or skip under `WORKFLOW_LIVE_ON_MISSING=skip`), so `run` and `preflight` agree.
 */
const guard = (lane: Lane): Effect.Effect<DsnGuard.VerifiedTarget | undefined, LaneError> =>
  phase(
    lane,
    "guard",
    DsnGuard.make().pipe(
      Effect.provide(WorkflowLiveConfig.layerConfig),
      Effect.map(Option.some),
      Effect.catchIf(
        (e): e is DsnGuard.DsnGuardError => e instanceof DsnGuard.DsnGuardError && e.reason === "missing-dsn",
        () => Effect.succeed(Option.none<DsnGuard.VerifiedTarget>())
      )
    ),
    Option.match({
      onNone: () => found(`${WorkflowLiveConfig.dsnVariable} is not set: preflight decides`, "skip"),
      onSome: (t) => found(`${t.database} on ${t.host}:${t.port}`)
    })
  ).pipe(
    Effect.map(Option.getOrUndefined),
    Effect.tap((target) => update(lane, { target }))
  )

/** Preflight, with its verdict used as is: `fail` stops the lane, `skip` skips it. */
const preflight = (lane: Lane): Effect.Effect<Preflight.Report, LaneError> =>
  phase(
    lane,
    "preflight",
    Preflight.check({
      replay: lane.options.external === undefined ? undefined : ExternalCalls.preflightReplay(lane.options.external),
      ...lane.options.preflight,
      reportDir: lane.options.reportDir
    }).pipe(
      Effect.tap((report) =>
        report.verdict === "pass"
          ? Effect.void
          : Effect.sync(() => process.stderr.write(`\n${Preflight.render(report, { colour: lane.options.colour })}\n\n`))
      ),
      Effect.filterOrFail(
        (report) => report.verdict !== "fail",
        (report) => new Preflight.PreflightError({ reason: "checks-failed", report })
      )
    ),
    (r) =>
      r.verdict === "skip"
        ? found(`skipped: ${r.skipReason ?? ""}`, "skip")
        : found(`${r.rows.length} checks passed${r.file === undefined ? "" : ` (${r.file})`}`)
  )

const describeReset = (r: DatabaseReset.ResetResult, earlier: LaneReport.Earlier | undefined): Found =>
  found(
    `${r.mode === "warm" ? `cloned ${r.template}` : "created"}, ${r.applied.length} migration(s) applied` +
      (r.terminated.length === 0 ? "" : `, ${r.terminated.length} session(s) terminated`) +
      (earlier === undefined ? "" : `; removed what run ${earlier.runId} left: ${LaneReport.formatRows(earlier.rows)}`)
  )

/**
 * The reset; what the last run left (if it never finished) is read first, and reported with it. Its lock
 * stays held (shared, on the same session) until the lane's scope closes.
 */
const reset = (lane: Lane, target: DsnGuard.VerifiedTarget) =>
  Effect.gen(function*() {
    const earlier = Option.getOrUndefined(yield* LeakCheck.leftover(target))
    const reset = yield* phase(
      lane,
      "reset",
      DatabaseReset.protectFromConfig(target).pipe(Effect.provide(WorkflowLiveConfig.layerConfig)),
      (r) => describeReset(r.result, earlier)
    )
    yield* update(lane, { earlier })
    return reset
  })

/**
 * The reset's lock, turned shared without a gap and watched (`lost` fails the moment its session is gone),
 * then the baseline: from here on, every row written is the run's.
 */
const protect = (lane: Lane, reset: DatabaseReset.ProtectedReset, target: DsnGuard.VerifiedTarget, runId: RunId.RunIdString) =>
  phase(
    lane,
    "protect",
    Effect.map(LeakCheck.baseline(target, runId), (baseline) => ({ protection: reset.protection satisfies Protection, baseline })),
    ({ baseline }) =>
      found(
        `shared lock held by pid ${reset.protection.pid} until the lane ends (another lane's reset waits; losing it ` +
          `fails the lane); baseline xid ${baseline.xid}`
      )
  )

const prepareSteps = (lane: Lane): Effect.Effect<void, LaneError, Scope.Scope> =>
  Effect.gen(function*() {
    const runId = yield* resolveRunId(lane)
    const target = yield* guard(lane)
    const checked = yield* preflight(lane)
    if (checked.verdict === "skip") {
      return yield* update(lane, { skip: checked.skipReason ?? "skipped by preflight" })
    }
    if (target === undefined) {
      return yield* new LaneError({ phase: "guard", detail: `${WorkflowLiveConfig.dsnVariable} is not set.` })
    }
    const { baseline, protection } = yield* protect(lane, yield* reset(lane, target), target, runId)
    // the run's one ledger, in this process, and what the workers' recorders need
    const external = lane.options.external === undefined ? undefined : yield* ExternalCalls.start(lane.options.external, {
      apis: ExternalCalls.apisOf(lane.options.preflight?.spec ?? Preflight.defaultSpec, WorkflowLiveConfig.dsnVariable),
      allow: [`${target.host}:${target.port}`]
    })
    yield* update(lane, { protection, baseline, external })
  })

/**
 * Runs the lane's first phases: run id, guard, preflight, reset, protect. Never fails: a failed phase
 * is recorded (`snapshot(lane).stopped`) for {@link finish} to report. The protection lives in the
 * scope: keep it open until `finish` is done.
 */
export const prepare = (lane: Lane): Effect.Effect<void, never, Scope.Scope> =>
  prepareSteps(lane).pipe(Effect.catchAll((stopped) => update(lane, { stopped })))

// ------------------------------------------------------------------------------------------------
// finish: verdict -> leak check -> sweep -> report
// ------------------------------------------------------------------------------------------------

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
  /** The tests could not run or finish: Vitest did not start, or the lane lost its protection. */
  | { readonly _tag: "Failed"; readonly message: string; readonly tests: LaneReport.Tests | null; readonly ms: number }

/** Verdict: the tests phase, from Vitest's own results. */
const verdict = (lane: Lane, outcome: TestsOutcome, snap: Snapshot): Effect.Effect<void> => {
  switch (outcome._tag) {
    case "NotRun":
      return Effect.void
    case "Completed": {
      const budget = snap.external === undefined ? undefined : ExternalCalls.problem(snap.external.report())
      const problems = [...LaneReport.verdictProblems(outcome.tests, snap.skip !== undefined), ...(budget === undefined ? [] : [budget])]
      return Effect.zipRight(
        record(lane, {
          name: "tests",
          status: problems.length > 0 ? "fail" : snap.skip !== undefined ? "skip" : "pass",
          ms: outcome.ms,
          detail: LaneReport.testsLine(outcome.tests)
        }),
        problems.length === 0 ? Effect.void : update(lane, { stopped: new LaneError({ phase: "tests", detail: problems.join("; ") }) })
      )
    }
    case "Interrupted": {
      // interrupted while preparing: no test ran, the interrupted phase says so
      if (!isReady(snap)) return Effect.void
      const running = outcome.tests?.running ?? []
      const detail = `interrupted by ${outcome.signal ?? "a signal"}` +
        (running.length === 0 ? " (no test was running)" : `; running: ${running.join(", ")}`)
      return record(lane, { name: "tests", status: "fail", ms: outcome.ms, detail })
    }
    case "Failed":
      return Effect.zipRight(
        record(lane, { name: "tests", status: "fail", ms: outcome.ms, detail: firstLine(outcome.message) }),
        update(lane, { stopped: new LaneError({ phase: "tests", detail: outcome.message }) })
      )
  }
}

/** Leak check: every row the run wrote that is still there when the tests are over. */
const leakCheck = (lane: Lane, target: DsnGuard.VerifiedTarget, baseline: LeakCheck.Baseline) =>
  phase(
    lane,
    "leak check",
    LeakCheck.written(target, baseline),
    (rows) => {
      const left = LaneReport.formatRows(rows)
      return left === "" ? found("no row of this run left") : found(`left behind by this run: ${left}`, "fail")
    }
  ).pipe(
    Effect.tap((rows) =>
      LaneReport.totalRows(rows) === 0
        ? Effect.void
        : update(lane, {
          stopped: new LaneError({
            phase: "leak check",
            detail: new LeakCheck.LeakCheckError({ reason: "leaked", runId: baseline.runId, detail: "", rows }).message
          })
        })
    ),
    Effect.catchAll((stopped) => Effect.as(update(lane, { stopped }), null))
  )

/** Sweep: removes every row the run wrote and left (after a leak or an interruption), children first. */
const sweep = (lane: Lane, target: DsnGuard.VerifiedTarget, baseline: LeakCheck.Baseline) =>
  phase(
    lane,
    "sweep",
    LeakCheck.sweep(target, baseline).pipe(Effect.timeout("15 seconds")),
    (swept) => found(LaneReport.totalRows(swept) === 0 ? "nothing to remove" : `removed ${LaneReport.formatRows(swept)}`)
  ).pipe(Effect.catchAll((stopped) => Effect.as(update(lane, { stopped }), null)))

/** Leak check, then sweep, for a lane that reached its tests; interrupted lanes only sweep. */
const cleanUp = (lane: Lane, outcome: TestsOutcome, snap: Snapshot) =>
  Effect.gen(function*() {
    if (snap.baseline === undefined || snap.target === undefined) return { leaks: null, swept: null }
    const interrupted = outcome._tag === "Interrupted"
    const leaks = interrupted ? null : yield* leakCheck(lane, snap.target, snap.baseline)
    if (interrupted && lane.options.disposable !== undefined) {
      yield* record(lane, { name: "sweep", status: "skip", ms: 0, detail: `not needed: ${lane.options.disposable}` })
      return { leaks, swept: null }
    }
    if (outcome._tag === "Completed" && leaks !== null && LaneReport.totalRows(leaks) === 0) {
      yield* record(lane, { name: "sweep", status: "pass", ms: 0, detail: "nothing to remove" })
      return { leaks, swept: {} }
    }
    const swept = yield* sweep(lane, snap.target, snap.baseline)
    return { leaks, swept }
  })

const outcomeOf = (tests: TestsOutcome, snap: Snapshot): { outcome: LaneReport.Outcome; exitCode: number; reason: string | null } => {
  if (tests._tag === "Interrupted") {
    return { outcome: "interrupted", exitCode: tests.signal === undefined ? 130 : exitCodeFor(tests.signal), reason: null }
  }
  const failed = snap.phases.find((p) => p.status === "fail")
  if (snap.stopped !== undefined || failed !== undefined) {
    const phaseName = snap.stopped?.phase ?? failed!.name
    return { outcome: "failed", exitCode: 1, reason: `failed in phase ${phaseName}: ${firstLine(snap.stopped?.detail ?? failed!.detail)}` }
  }
  if (snap.skip !== undefined) return { outcome: "skipped", exitCode: 0, reason: `skipped: ${snap.skip}` }
  return { outcome: "passed", exitCode: 0, reason: null }
}

/** `INTERRUPTED by SIGINT during tests ...`: one line saying what was running, what was swept, the exit code. */
const interruptedReason = (lane: Lane, tests: TestsOutcome, snap: Snapshot, swept: LaneReport.Rows | null, exitCode: number): string => {
  const during = [...snap.phases].reverse().find((p) => p.detail.startsWith("interrupted"))?.name ?? "tests"
  const running = tests._tag === "Interrupted" ? tests.tests?.running ?? [] : []
  const signal = tests._tag === "Interrupted" ? tests.signal ?? "a signal" : "a signal"
  const sweptText = swept === null
    ? snap.protection === undefined
      ? "nothing to sweep (no test had started)"
      : `not swept: ${lane.options.disposable ?? "the sweep did not run"}`
    : LaneReport.totalRows(swept) === 0 ? "nothing left to sweep" : `swept ${LaneReport.formatRows(swept)}`
  return `by ${signal} during ${during}` + (running.length === 0 ? "" : ` (running: ${running.join(", ")})`) +
    `; ${sweptText}; exit ${exitCode}`
}

const externalReport = (snap: Snapshot): Pick<LaneReport.Report, "http" | "cost"> => {
  const external = snap.external?.report()
  return { http: external?.http ?? null, cost: external?.cost ?? null }
}

const buildReport = (
  lane: Lane,
  tests: TestsOutcome,
  snap: Snapshot,
  cleaned: { readonly leaks: LaneReport.Rows | null; readonly swept: LaneReport.Rows | null }
): LaneReport.Report => {
  const { exitCode, outcome, reason } = outcomeOf(tests, snap)
  const dir = lane.options.reportDir
  return {
    runId: snap.runId ?? null,
    target: snap.target === undefined
      ? null
      : { dsn: snap.target.masked, host: snap.target.host, port: snap.target.port, database: snap.target.database },
    startedAt: lane.startedAt.toISOString(),
    durationMs: Date.now() - lane.startedAt.getTime(),
    outcome,
    exitCode,
    reason: outcome === "interrupted" ? interruptedReason(lane, tests, snap, cleaned.swept, exitCode) : reason,
    phases: snap.phases,
    tests: tests._tag === "NotRun" ? null : tests.tests,
    leaks: cleaned.leaks,
    swept: cleaned.swept,
    earlier: snap.earlier ?? null,
    ...externalReport(snap),
    files: { report: `${dir}/report.json`, junit: `${dir}/junit.xml`, summary: `${dir}/summary.md` }
  }
}

/** Report: one value, written as report.json, junit.xml, summary.md (and $GITHUB_STEP_SUMMARY), then printed. */
const report = (lane: Lane, tests: TestsOutcome, cleaned: Parameters<typeof buildReport>[3]) =>
  Effect.gen(function*() {
    const started = performance.now()
    const snap = yield* snapshot(lane)
    const draft = buildReport(lane, tests, snap, cleaned)
    const phase: LaneReport.Phase = {
      name: "report",
      status: "pass",
      ms: 0,
      detail: `report.json, junit.xml, summary.md in ${lane.options.reportDir}` +
        (process.env.GITHUB_STEP_SUMMARY ? ", $GITHUB_STEP_SUMMARY" : "")
    }
    const final: LaneReport.Report = { ...draft, phases: [...draft.phases, { ...phase, ms: performance.now() - started }] }
    const written = yield* Effect.either(LaneReport.write(final))
    const shown: LaneReport.Report = written._tag === "Right"
      ? final
      : {
        ...final,
        outcome: final.outcome === "interrupted" ? "interrupted" : "failed",
        exitCode: final.outcome === "interrupted" ? final.exitCode : 1,
        phases: [...draft.phases, { ...phase, status: "fail", detail: written.left }]
      }
    yield* print(lane, LaneReport.renderPhase(shown.phases[shown.phases.length - 1]!, lane.options.colour))
    yield* print(lane, LaneReport.renderTerminal(shown, lane.options.colour))
    if (shown.outcome === "failed" && snap.stopped !== undefined) yield* print(lane, `\n${snap.stopped.message}`)
    return shown
  })

/**
 * Ends the lane: the verdict from the tests' outcome, the leak check, the sweep and the report. Call it
 * before the scope of {@link prepare} closes (the sweep runs under the lane's protection).
 */
export const finish = (lane: Lane, tests: TestsOutcome): Effect.Effect<LaneReport.Report> =>
  Effect.gen(function*() {
    yield* verdict(lane, tests, yield* snapshot(lane))
    const cleaned = yield* cleanUp(lane, tests, yield* snapshot(lane))
    return yield* report(lane, tests, cleaned)
  })

/**
 * One pass of a lane in watch mode: the same verdict, leak check, sweep and report as {@link finish}, on a
 * copy of the prepared lane, which stays prepared (reset once, protected) for the next pass.
 */
export const pass = (lane: Lane, tests: TestsOutcome): Effect.Effect<LaneReport.Report> =>
  Effect.flatMap(Ref.get(lane.state), (prepared) =>
    Effect.flatMap(Ref.make(prepared), (state) => finish({ ...lane, state }, tests)))
