/**
 * Vitest's side of a lane run: starts the `workflow-live` project in this process (no second Node
 * start-up), hands it the lane's run ID and skip decision, collects its results for the verdict, and
 * takes over its signal handling. Vitest's own handlers exit the process at once on SIGINT/SIGTERM, which
 * would skip the sweep: they are removed, so a signal interrupts the lane's fiber instead, which cancels
 * and closes Vitest here and then lets `Lane.finish` sweep and report.
 */
import { Data, Duration, Effect, type Scope } from "effect"
import type { SerializedError } from "vitest"
import type { TestCase, TestModule, Vitest } from "vitest/node"
import * as HttpRecorder from "../HttpRecorder.js"
import * as RunningChannel from "../internal/runningChannel.js"
import { keepProvideKey } from "../internal/variables.js"
import * as LaneProgress from "../lane/progress.js"
import * as LaneReport from "../LaneReport.js"
import * as RunId from "../RunId.js"
import { optionsOf, type VitestArgs } from "./args.js"
import * as Handoff from "./handoff.js"
import { fromModules } from "./results.js"
import { skipKey } from "./skipReason.js"

/** Why the tests could not run. */
export const reasons = ["vitest-did-not-start", "vitest-crashed"] as const

/** Vitest could not be started, or stopped with an error of its own. */
export class VitestStartError extends Data.TaggedError("VitestStartError")<{
  readonly reason: typeof reasons[number]
  readonly detail: string
}> {
  override get message(): string {
    return [
      this.reason === "vitest-did-not-start"
        ? `Vitest could not start the workflow-live project (${this.reason}): ${this.detail}`
        : `Vitest stopped with an error (${this.reason}): ${this.detail}`,
      `  Fix: check the Vitest config (a \`workflow-live\` project must exist; \`--config\` after \`--\` picks ` +
      `another file) and the arguments after \`--\`.`
    ].join("\n")
  }
}

/** How Vitest is created: what it runs and how. */
export interface CreateOptions {
  readonly args: VitestArgs
  /** Watch mode: rerun on change until interrupted; `onPass` runs after each pass, before the next. */
  readonly watch: boolean
  /** Prints a progress line (how many files Vitest collects); absent: none. */
  readonly status?: ((line: string) => void) | undefined
  readonly onPass?: ((tests: LaneReport.Tests, ms: number) => Promise<void>) | undefined
}

/** What the lane hands to the tests once it is prepared. */
export interface Handover {
  readonly runId: string
  readonly skip: string | undefined
  /** What the workers' HTTP recorder needs (the run's mode and ledger); absent: calls are not recorded or counted. */
  readonly http?: HttpRecorder.Provided | undefined
  /** What the workers' fixtures keep of a failed test (handed over so the workers and the lane agree). */
  readonly keep?: "none" | "failed" | undefined
}

/** Follows a run as it goes, so an interrupted run can still say what finished and what was running. */
export interface Progress {
  readonly current: () => LaneReport.Tests | null
}

const projectName = "workflow-live"

// `--reporter` arrives as `reporter` and would replace the lane's own reporter: merge it into `reporters`
const userReporters = async (options: Readonly<Record<string, unknown>>, watch: boolean): Promise<Array<unknown>> => {
  const requested = options.reporters ?? options.reporter
  const names = requested === undefined ? ["default"] : Array.isArray(requested) ? requested : [requested]
  if (!watch) return names
  // in watch mode Vitest's default reporter offers keyboard shortcuts (h, q) the lane does not register:
  // its own line says how a watch ends (Ctrl-C, which sweeps)
  const { DefaultReporter } = await import("vitest/reporters")
  class WatchReporter extends DefaultReporter {
    override onWatcherStart(): void {}
  }
  return names.map((name) => name === "default" ? new WatchReporter() : name)
}

type Collector = ReturnType<typeof makeCollector>

const makeCollector = (root: () => string, pattern: () => RegExp | undefined, onPass: CreateOptions["onPass"]) => {
  const running = new Set<string>()
  let vitest: Vitest | undefined
  let last: LaneReport.Tests | null = null
  let frozen: LaneReport.Tests | null | undefined
  let passStarted = performance.now()
  const nameOf = (test: TestCase) => `${test.module.moduleId.slice(root().length + 1)} > ${test.fullName}`
  const reporter = {
    onInit: (ctx: Vitest) => void (vitest = ctx),
    onTestRunStart: () => void (passStarted = performance.now()),
    onTestCaseReady: (test: TestCase) => void running.add(nameOf(test)),
    onTestCaseResult: (test: TestCase) => void running.delete(nameOf(test)),
    onTestRunEnd: async (modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>) => {
      last = fromModules(modules, errors, { root: root(), pattern: pattern() })
      running.clear()
      if (onPass !== undefined && frozen === undefined) await onPass(last, performance.now() - passStarted)
    }
  }
  const now = (): LaneReport.Tests | null =>
    running.size === 0 && last !== null
      ? last
      : vitest === undefined
      ? null
      : fromModules(vitest.state.getTestModules(), [], { root: root(), pattern: pattern(), running: [...running] })
  // on interruption: what had finished and what was running at that moment, before the cancel fails them
  const freeze = () => void (frozen ??= now())
  const current = () => frozen === undefined ? now() : frozen
  // the workers' own word on what runs, ahead of Vitest's throttled task updates (internal/runningChannel)
  const announced = ({ event, file, fullName }: RunningChannel.Announcement) => {
    const name = `${file.slice(root().length + 1)} > ${fullName}`
    if (event === "started") running.add(name)
    else running.delete(name)
  }
  return { reporter, current, freeze, announced, last: () => last }
}

const handledByTheLane: ReadonlyArray<string | symbol> = ["SIGINT", "SIGTERM", "unhandledRejection"]

/**
 * While `f` runs, removes every SIGINT, SIGTERM and unhandledRejection listener added meanwhile (Vitest's
 * exit the process at once, which would skip the sweep): the lane handles them itself. Each is removed in
 * the microtask after it is added, before any signal can be delivered to it. Vitest is created while the
 * lane prepares, so a Ctrl-C during preflight or the reset finds no listener of Vitest's either.
 */
const withoutVitestSignalHandlers = async <A>(f: () => Promise<A>): Promise<A> => {
  const onNewListener = (event: string | symbol, listener: (...args: Array<unknown>) => void) => {
    if (handledByTheLane.includes(event)) queueMicrotask(() => process.off(event as "SIGINT", listener))
  }
  process.on("newListener", onNewListener)
  try {
    return await f()
  } finally {
    process.off("newListener", onNewListener)
  }
}

const createVitest = (options: CreateOptions, collector: Collector) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const { createVitest } = await import("vitest/node")
        const parsed = await optionsOf(options.args)
        const { reporter: _ignored, reporters: _also, ...rest } = parsed
        // the live project is part of the config only when asked for (see vitest.config.ts); the rest is
        // what Vitest's own CLI sets before it loads a config
        process.env.WORKFLOW_LIVE_LANE = "1"
        process.env.TEST = "true"
        process.env.VITEST = "true"
        process.env.NODE_ENV ??= "test"
        const reporters = [
          ...await userReporters(parsed, options.watch),
          collector.reporter,
          ...(options.status === undefined ? [] : [LaneProgress.reporter(options.status)])
        ]
        return await withoutVitestSignalHandlers(() =>
          createVitest("test", { ...rest, run: !options.watch, watch: options.watch, project: [projectName], reporters: reporters as never })
        )
      },
      catch: (e) => new VitestStartError({ reason: "vitest-did-not-start", detail: e instanceof Error ? e.message : String(e) })
    }),
    (vitest) => Effect.promise(() => vitest.close()).pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore)
  )

// @vitest/runner sends a worker's task updates (a test started, finished) at most every 100 ms
const taskUpdateMs = 150

/**
 * Stops a run on interruption: silences Vitest's own reporters (they would report the cancelled tests as
 * failures after the lane's message), lets the workers' last task updates arrive (a test that started just
 * before the signal is then known as running), freezes what the lane will report, cancels, and waits for
 * the run to wind down so its workers are gone before the sweep.
 */
const cancel = (vitest: Vitest, started: Promise<unknown>, collector: Collector): Effect.Effect<void> =>
  Effect.promise(async () => {
    const reporters = vitest as unknown as { reporters: Array<unknown> }
    reporters.reporters = [collector.reporter]
    await new Promise((resolve) => setTimeout(resolve, taskUpdateMs))
    collector.freeze()
    reporters.reporters = []
    await vitest.cancelCurrentRun("keyboard-input")
    await started.catch(() => undefined)
  }).pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore)

/** Hands the run ID and the skip decision to the project: workers read them with `inject`. */
const handOver = (vitest: Vitest, options: Handover): void => {
  Handoff.attach(vitest, { runId: options.runId, skip: options.skip })
  for (const project of vitest.projects) {
    project.provide(RunId.provideKey, options.runId)
    if (options.skip !== undefined) project.provide(skipKey, options.skip)
    if (options.http !== undefined) project.provide(HttpRecorder.provideKey, options.http)
    project.provide(keepProvideKey, options.keep ?? "none")
  }
}

/** A Vitest instance created for the lane (config loaded, projects resolved), not started: no worker, no test file. */
export interface Created {
  readonly vitest: Vitest
  readonly watch: boolean
  readonly filters: ReadonlyArray<string>
  readonly collector: Collector
}

/**
 * Imports Vitest, loads its config and creates the instance, closed with the scope. Nothing here depends
 * on the database: the lane runs it while preflight and the reset run, and starts the tests after.
 */
export const create = (options: CreateOptions): Effect.Effect<Created, VitestStartError, Scope.Scope> =>
  Effect.gen(function*() {
    let vitestRef: Vitest | undefined
    const collector = makeCollector(
      () => vitestRef?.config.root ?? process.cwd(),
      () => vitestRef?.config.testNamePattern,
      options.onPass
    )
    // the workers' announcements of what runs (internal/runningChannel), heard as long as Vitest lives
    yield* Effect.acquireRelease(
      Effect.sync(() => RunningChannel.listen(collector.announced)),
      (close) => Effect.sync(close)
    )
    const vitest = yield* createVitest(options, collector)
    vitestRef = vitest
    return { vitest, watch: options.watch, filters: options.args.filters, collector }
  })

/** Runs the project once (or, in watch mode, until interrupted); returns the results of the last pass. */
export const run = (
  created: Created,
  options: Handover,
  progress: (p: Progress) => void = () => {}
): Effect.Effect<LaneReport.Tests, VitestStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const { collector, vitest } = created
    progress({ current: collector.current })
    handOver(vitest, options)
    const rejections: Array<unknown> = []
    const onRejection = (reason: unknown) => void rejections.push(reason)
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("unhandledRejection", onRejection)),
      () => Effect.sync(() => process.off("unhandledRejection", onRejection))
    )
    const { TestsNotFoundError } = yield* Effect.promise(() => import("vitest/node"))
    const started = vitest.start([...created.filters])
    // no file matched the filters: a run in which no test ran, which the verdict fails as such
    const found = yield* Effect.tryPromise({ try: () => started.then(() => true), catch: (e) => e }).pipe(
      Effect.catchAll((e) =>
        e instanceof TestsNotFoundError
          ? Effect.succeed(false)
          : Effect.fail(new VitestStartError({ reason: "vitest-crashed", detail: e instanceof Error ? e.message : String(e) }))
      ),
      Effect.onInterrupt(() => cancel(vitest, started, collector))
    )
    if (created.watch) yield* Effect.never
    const tests = found ? collector.last() : LaneReport.noTests
    if (tests === null) return yield* new VitestStartError({ reason: "vitest-crashed", detail: "the run ended without results" })
    return rejections.length === 0 ? tests : {
      ...tests,
      runErrors: [...tests.runErrors, ...rejections.map((r) => ({ where: "unhandled", message: r instanceof Error ? r.message : String(r) }))]
    }
  })
