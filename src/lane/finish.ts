/** The steps of `Lane.finish`: the verdict, the leak check and the sweep, the report. Each records its phase. */
import { Effect, Either, Ref } from "effect"
import type * as DsnGuard from "../DsnGuard.js"
import * as ExternalCalls from "../ExternalCalls.js"
import { laneSecrets, scrubDeep } from "../internal/secretScrub.js"
import { exitCodeFor, receivedSignal, receivedSignalAt } from "../internal/signals.js"
import { firstLine } from "../internal/terminal.js"
import * as LaneReport from "../LaneReport.js"
import * as LeakCheck from "../LeakCheck.js"
import * as Preflight from "../Preflight.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"
import * as Keep from "./keep.js"
import { found, isReady, type Lane, LaneError, phase, print, record, type Snapshot, snapshot, type TestsOutcome, update } from "./state.js"

/** Verdict: the tests phase, from Vitest's own results. */
export const verdict = (lane: Lane, outcome: TestsOutcome, snap: Snapshot): Effect.Effect<void> => {
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
      return record(lane, { name: "tests", status: "fail", detail })
    }
    case "Failed":
      return Effect.zipRight(
        record(lane, { name: "tests", status: "fail", detail: firstLine(outcome.message) }),
        update(lane, { stopped: new LaneError({ phase: "tests", detail: outcome.message }) })
      )
  }
}

const keptNote = (kept: ReadonlyArray<LaneReport.KeptTest> | null): string =>
  kept === null ? "" : ` (kept for inspection: ${LaneReport.formatRows(Keep.totals(kept)) || "no row"} of ${kept.length} failed test(s))`

/**
 * Leak check: every row the run wrote that is still there when the tests are over. Rows of failed tests
 * kept for inspection are found first, and are not leaks.
 */
const leakCheck = (
  lane: Lane,
  target: DsnGuard.VerifiedTarget,
  baseline: LeakCheck.Baseline,
  failed: ReadonlyArray<LaneReport.TestCase>
) =>
  phase(
    lane,
    "leak check",
    Effect.flatMap(Keep.find(target, baseline, failed), (kept) =>
      Effect.map(LeakCheck.written(target, baseline, { keep: Keep.asKeep(kept) }), (rows) => ({ rows, kept }))),
    ({ kept, rows }) => {
      const left = LaneReport.formatRows(rows)
      return left === ""
        ? found(`no row of this run left${keptNote(kept)}`)
        : found(`left behind by this run: ${left}${keptNote(kept)}`, "fail")
    }
  ).pipe(
    Effect.tap(({ rows }) =>
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
const sweep = (lane: Lane, target: DsnGuard.VerifiedTarget, baseline: LeakCheck.Baseline, keep: LeakCheck.Keep) =>
  phase(
    lane,
    "sweep",
    LeakCheck.sweep(target, baseline, { keep }).pipe(
      Effect.timeout("15 seconds"),
      Effect.map((swept): Either.Either<LaneReport.Rows, string> => Either.right(swept)),
      // another lane has reset the database (or is resetting it): what is there is that lane's
      Effect.catchIf(
        (e): e is LeakCheck.LeakCheckError => e instanceof LeakCheck.LeakCheckError && e.reason === "not-ours",
        (e) => Effect.succeed<Either.Either<LaneReport.Rows, string>>(Either.left(e.detail))
      )
    ),
    (result: Either.Either<LaneReport.Rows, string>) =>
      Either.match(result, {
        onLeft: (why) => found(`nothing removed: ${why}, so its rows are that lane's`, "skip"),
        onRight: (swept) => {
          const kept = Keep.totalsOf(keep)
          return found(
            (LaneReport.totalRows(swept) === 0 ? "nothing to remove" : `removed ${LaneReport.formatRows(swept)}`) +
              (LaneReport.totalRows(kept) === 0 ? "" : `; kept ${LaneReport.formatRows(kept)}`)
          )
        }
      })
  ).pipe(
    Effect.map(Either.getOrNull),
    Effect.catchAll((stopped) => Effect.as(update(lane, { stopped }), null))
  )

/** What the leak check found, the sweep removed and the lane kept; `null` where the step did not run. */
export interface Cleaned {
  readonly leaks: LaneReport.Rows | null
  readonly swept: LaneReport.Rows | null
  readonly kept: ReadonlyArray<LaneReport.KeptTest> | null
}

/** Leak check, then sweep, for a lane that reached its tests; interrupted lanes only sweep (and keep nothing). */
export const cleanUp = (lane: Lane, outcome: TestsOutcome, snap: Snapshot): Effect.Effect<Cleaned> =>
  Effect.gen(function*() {
    if (snap.baseline === undefined || snap.target === undefined) return { leaks: null, swept: null, kept: null }
    const interrupted = outcome._tag === "Interrupted"
    // without its protection the tests did not finish: the sweep still runs, if the database is still ours
    const unprotected = outcome._tag === "Failed" && outcome.unprotected
    const checked = interrupted || unprotected
      ? null
      : yield* leakCheck(lane, snap.target, snap.baseline, Keep.failedTests(lane, outcome))
    const leaks = checked?.rows ?? null
    const kept = checked?.kept ?? null
    if (interrupted && lane.options.disposable !== undefined) {
      yield* record(lane, { name: "sweep", status: "skip", detail: `not needed: ${lane.options.disposable}` })
      return { leaks, swept: null, kept }
    }
    if (outcome._tag === "Completed" && leaks !== null && LaneReport.totalRows(leaks) === 0) {
      const detail = kept === null ? "nothing to remove" : `nothing to remove; kept ${LaneReport.formatRows(Keep.totals(kept))}`
      yield* record(lane, { name: "sweep", status: "pass", detail })
      return { leaks, swept: {}, kept }
    }
    const swept = yield* sweep(lane, snap.target, snap.baseline, Keep.asKeep(kept))
    return { leaks, swept, kept }
  })

/** Exit: the lane's resources released (its lock, its connections, the ledger) before the report is written. */
export const exit = (lane: Lane, release: Effect.Effect<void>) =>
  phase(lane, "exit", release, () => found("what the lane held released: its lock, connections, ledger")).pipe(
    Effect.catchAll((stopped) => update(lane, { stopped }))
  )

const outcomeOf = (tests: TestsOutcome, snap: Snapshot): { outcome: LaneReport.Outcome; exitCode: number; reason: string | null } => {
  // a signal after the tests (during the leak check or the sweep, which still run to the end) is an
  // interruption too: a cancelled run never reads as passed
  const signal = tests._tag === "Interrupted" ? tests.signal ?? receivedSignal() : receivedSignal()
  if (tests._tag === "Interrupted" || signal !== undefined) {
    return { outcome: "interrupted", exitCode: signal === undefined ? 130 : exitCodeFor(signal), reason: null }
  }
  // the first phase that failed is the cause the headline names (tests that failed, then the leak their
  // failure left); a later failure is added to it
  const failedPhases = snap.phases.filter((p) => p.status === "fail")
  const first = failedPhases[0]
  if (snap.stopped !== undefined || first !== undefined) {
    const detailOf = (name: string, fallback: string) => firstLine(snap.stopped?.phase === name ? snap.stopped.detail : fallback)
    const phaseName = first?.name ?? snap.stopped!.phase
    const later = [...new Set([...failedPhases.slice(1).map((p) => p.name), ...(snap.stopped === undefined ? [] : [snap.stopped.phase])])]
      .filter((name) => name !== phaseName)
      .map((name) => `${name} (${detailOf(name, snap.phases.find((p) => p.name === name)?.detail ?? "")})`)
    return {
      outcome: "failed",
      exitCode: 1,
      reason: `failed in phase ${phaseName}: ${detailOf(phaseName, first?.detail ?? "")}` +
        (later.length === 0 ? "" : `; then ${later.join("; ")}`)
    }
  }
  if (snap.skip !== undefined) return { outcome: "skipped", exitCode: 0, reason: `skipped: ${snap.skip}` }
  return { outcome: "passed", exitCode: 0, reason: null }
}

/** `INTERRUPTED by SIGINT during tests ...`: one line saying what was running, what was swept, the exit code. */
/** The phase that was running at `at` (phases run back to back from `origin`), if one was. */
const phaseAt = (snap: Snapshot, origin: number, at: number | undefined): string | undefined => {
  if (at === undefined) return undefined
  let end = origin
  for (const phase of snap.phases) {
    end += phase.ms
    if (at <= end) return phase.name
  }
  return undefined
}

const interruptedReason = (
  lane: Lane,
  tests: TestsOutcome,
  snap: Snapshot,
  swept: LaneReport.Rows | null,
  exitCode: number,
  origin: number
): string => {
  const during = [...snap.phases].reverse().find((p) => p.detail.startsWith("interrupted"))?.name ??
    (tests._tag === "Interrupted" ? "tests" : phaseAt(snap, origin, receivedSignalAt()) ?? "the report")
  const running = tests._tag === "Interrupted" ? tests.tests?.running ?? [] : []
  const signal = (tests._tag === "Interrupted" ? tests.signal : undefined) ?? receivedSignal() ?? "a signal"
  const sweep = snap.phases.find((p) => p.name === "sweep")
  const sweptText = swept === null
    ? snap.protection === undefined
      ? "nothing to sweep (no test had started)"
      : sweep?.status === "fail"
      ? `the sweep failed (${firstLine(sweep.detail)}): the next reset drops what is left`
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
  cleaned: Cleaned,
  time: { readonly origin: number; readonly now: number }
): LaneReport.Report => {
  const { exitCode, outcome, reason } = outcomeOf(tests, snap)
  const dir = lane.options.reportDir
  return {
    runId: snap.runId ?? null,
    target: snap.target === undefined
      ? null
      : { dsn: snap.target.masked, host: snap.target.host, port: snap.target.port, database: snap.target.database },
    // performance.timeOrigin is when this process started; the lane's time starts at `origin` on that scale
    startedAt: new Date(performance.timeOrigin + time.origin).toISOString(),
    durationMs: time.now - time.origin,
    outcome,
    exitCode,
    reason: outcome === "interrupted" ? interruptedReason(lane, tests, snap, cleaned.swept, exitCode, time.origin) : reason,
    phases: snap.phases,
    tests: tests._tag === "NotRun" ? null : tests.tests,
    leaks: cleaned.leaks,
    swept: cleaned.swept,
    kept: cleaned.kept,
    earlier: snap.earlier ?? null,
    ...externalReport(snap),
    files: { report: `${dir}/report.json`, junit: `${dir}/junit.xml`, summary: `${dir}/summary.md` }
  }
}

/**
 * The secrets the lane knows (the DSN's password, the spec's API keys, credential-named variables): none
 * may reach its output, even inside a test's error message.
 */
export const secrets = (lane: Lane): ReadonlyArray<string> =>
  laneSecrets(
    process.env,
    WorkflowLiveConfig.dsnVariable,
    ExternalCalls.apisOf(lane.options.preflight?.spec ?? Preflight.defaultSpec, WorkflowLiveConfig.dsnVariable).secretVariables
  )

/**
 * Report: one value, written as report.json, junit.xml, summary.md (and $GITHUB_STEP_SUMMARY), then printed.
 * Its own phase, and the lane's duration, run up to the moment the files are written: the write itself and
 * what the process does after it cannot be in the report they are part of.
 */
export const report = (lane: Lane, tests: TestsOutcome, cleaned: Cleaned) =>
  Effect.gen(function*() {
    const snap = yield* snapshot(lane)
    const clock = yield* Ref.get(lane.clock)
    const now = performance.now()
    const draft = buildReport(lane, tests, snap, cleaned, { origin: clock.origin, now })
    const phase: LaneReport.Phase = {
      name: "report",
      status: "pass",
      ms: now - clock.last,
      detail: `report.json, junit.xml, summary.md in ${lane.options.reportDir}` +
        (process.env.GITHUB_STEP_SUMMARY ? ", $GITHUB_STEP_SUMMARY" : "")
    }
    // every view renders this one value: scrubbed once here, none of them can show a secret
    // (the files' paths are where to write, kept as they are; shown, they pass the output's own scrub)
    const final: LaneReport.Report = {
      ...scrubDeep({ ...draft, phases: [...draft.phases, phase] }, secrets(lane)),
      files: draft.files
    }
    // as written: failed in phase report when a file could not be, and then every file says so
    const shown = yield* LaneReport.write(final)
    yield* print(lane, LaneReport.renderPhase(shown.phases[shown.phases.length - 1]!, lane.options.colour))
    yield* print(lane, LaneReport.renderTerminal(shown, lane.options.colour))
    if (shown.outcome === "failed" && snap.stopped !== undefined) {
      // the headline names the first phase that failed; a later one's message must not claim to be the cause
      const cause = shown.reason?.startsWith(`failed in phase ${snap.stopped.phase}:`) === true
      yield* print(lane, `\n${cause ? snap.stopped.message : `The ${snap.stopped.phase} phase failed too: ${snap.stopped.detail}`}`)
    }
    return shown
  })
