/** The steps of `Lane.prepare`: run id, guard, preflight, reset, protect. Each records its phase. */
import { Effect, Either, Fiber, Option, Ref, type Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as DatabaseReset from "../DatabaseReset.js"
import * as DsnGuard from "../DsnGuard.js"
import * as ExternalCalls from "../ExternalCalls.js"
import * as LaneReport from "../LaneReport.js"
import * as LeakCheck from "../LeakCheck.js"
import type * as Migrations from "../Migrations.js"
import * as Preflight from "../Preflight.js"
import * as RunId from "../RunId.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"
import { found, type Found, type Lane, type LaneError, phase, progress, type Protection, record, update } from "./state.js"

const binMark = "workflow-live/bin"

/**
 * Start and load, when bin/workflow-live.js started this process (it marks the moment it ran): `start` is
 * Node's own start up to that mark (performance.timeOrigin is the process's start; what runs before it,
 * exec and Node's own loading, is not measurable from inside), `load` the bundle, the command line and the
 * inputs, up to now. From then on the lane's time starts at the process's.
 */
export const recordStart = (lane: Lane): Effect.Effect<void> =>
  Effect.suspend(() => {
    const mark = performance.getEntriesByName(binMark, "mark")[0]
    if (mark === undefined) return Effect.void
    return Effect.all([
      Ref.set(lane.clock, { origin: 0, last: 0 }),
      record(lane, { name: "start", status: "pass", detail: "Node's own start" }, mark.startTime),
      record(lane, { name: "load", status: "pass", detail: "the CLI's bundle, the command line, the inputs (Vitest's CLI module checks the arguments after --)" })
    ], { discard: true })
  })

export const resolveRunId = (lane: Lane) =>
  phase(lane, "run id", RunId.resolve, (id) => found(id)).pipe(Effect.tap((runId) => update(lane, { runId })))

/**
 * The guard, before anything connects. A DSN that is not set is a missing variable like the others:
 * preflight decides (fail, or skip under `WORKFLOW_LIVE_ON_MISSING=skip`), so `run` and `preflight` agree.
 */
export const guard = (lane: Lane): Effect.Effect<DsnGuard.VerifiedTarget | undefined, LaneError> =>
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
export const preflight = (lane: Lane): Effect.Effect<Preflight.Report, LaneError> =>
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
    `${r.spare !== undefined ? `swapped in ${r.spare}` : r.mode === "warm" ? `cloned ${r.template}` : "created"}, ` +
      `${r.applied.length} migration(s) applied` +
      (r.terminated.length === 0 ? "" : `, ${r.terminated.length} session(s) terminated`) +
      (earlier === undefined ? "" : `; removed what run ${earlier.runId} left: ${LaneReport.formatRows(earlier.rows)}`)
  )

/** What is started right after the guard, while preflight runs (nothing in it writes). */
export interface Ahead {
  /** The reset prepared: its session connected and warmed, the migrations read (or why not). */
  readonly prepared: Either.Either<DatabaseReset.Prepared, DatabaseReset.DatabaseResetError | Migrations.MigrationsError | ConfigError>
  /** What the last run left, if it never finished. */
  readonly earlier: Option.Option<LaneReport.Earlier>
}

/**
 * Starts, in the lane's scope, what the reset needs and can have before preflight's verdict: the reset's
 * session and migrations, and the read of what an earlier run left. A failure here is the reset's, reported
 * only once preflight passed; an unused session is closed with the lane.
 */
export const ahead = (lane: Lane, target: DsnGuard.VerifiedTarget): Effect.Effect<Fiber.Fiber<Ahead>, never, Scope.Scope> =>
  Effect.forkScoped(Effect.all({
    prepared: Effect.either(
      DatabaseReset.prepareFromConfig(target, {
        // the reset waits for another lane's tests or reset: "… resetting" alone would look like a hang
        onLockWait: (holders) => progress(lane, `resetting ${target.database}: waiting, ${DatabaseReset.describeHolders(holders)}`)
      }).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))
    ),
    earlier: LeakCheck.leftover(target)
  }, { concurrency: 2 }))

/**
 * The reset, on the session prepared ahead; what the last run left is reported with it. Its lock stays
 * held (shared, on the same session) until the lane's scope closes.
 */
export const reset = (lane: Lane, ready: Fiber.Fiber<Ahead>) =>
  Effect.gen(function*() {
    // joined inside the phase: a wait for the preparation (a slow connect) shows as the reset's
    const { earlier, reset } = yield* phase(
      lane,
      "reset",
      Effect.gen(function*() {
        const joined = yield* Fiber.join(ready)
        const reset = yield* Effect.flatMap(joined.prepared, (prepared) => prepared.resetAndProtect)
        return { reset, earlier: Option.getOrUndefined(joined.earlier) }
      }),
      (r) => describeReset(r.reset.result, r.earlier)
    )
    yield* update(lane, { earlier })
    return reset
  })

/**
 * The reset's lock, turned shared without a gap and watched (`lost` fails the moment its session is gone),
 * then the baseline: from here on, every row written is the run's.
 */
export const protect = (lane: Lane, reset: DatabaseReset.ProtectedReset, target: DsnGuard.VerifiedTarget, runId: RunId.RunIdString) =>
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

/** The run's one ledger (and, in record or replay, its recorder), in this process; the workers report to it. */
export const external = (lane: Lane, target: DsnGuard.VerifiedTarget) =>
  lane.options.external === undefined
    ? Effect.succeed(undefined)
    : ExternalCalls.start(lane.options.external, {
      apis: ExternalCalls.apisOf(lane.options.preflight?.spec ?? Preflight.defaultSpec, WorkflowLiveConfig.dsnVariable),
      allow: [`${target.host}:${target.port}`]
    })
