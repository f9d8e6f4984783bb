/**
 * `workflow-live run`: the whole lane in one process. Guard, preflight, reset, the `workflow-live`
 * Vitest project (started in this process: no extra Node start-up), the leak check and the report.
 * On SIGINT/SIGTERM the fiber is interrupted: Vitest is cancelled and closed, then the run's records
 * are swept, before the process exits.
 */
import { Cause, Clock, Console, Data, Duration, Effect, Exit } from "effect"
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import type { TestCase, TestModule, Vitest } from "vitest/node"
import * as CostLedger from "../CostLedger.js"
import * as DatabaseReset from "../DatabaseReset.js"
import * as DsnGuard from "../DsnGuard.js"
import * as Fixtures from "../Fixtures.js"
import * as HttpRecorder from "../HttpRecorder.js"
import * as Preflight from "../Preflight.js"
import * as RunId from "../RunId.js"
import * as StandIns from "../StandIns.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"
import { markPrepared } from "../vitest/prepared.js"
import { renderCause } from "./render.js"

/** One step of the lane, as shown and reported. */
export interface Phase {
  readonly name: string
  readonly status: "pass" | "fail" | "skip"
  readonly ms: number
  readonly detail: string
}

/** Test counts and external calls, as collected from Vitest. */
export interface TestSummary {
  readonly passed: number
  readonly failed: number
  readonly skipped: number
  readonly total: number
  readonly unhandledErrors: number
  readonly externalCalls: Readonly<Record<string, number>>
  readonly failures: ReadonlyArray<{ readonly name: string; readonly error: string }>
}

/** What the run writes to `report.json`. */
export interface LaneReport {
  readonly runId: string
  readonly target: { readonly dsn: string; readonly host: string; readonly port: number; readonly database: string } | null
  readonly startedAt: string
  readonly durationMs: number
  readonly outcome: "passed" | "failed" | "skipped" | "interrupted"
  readonly skipReason: string | null
  readonly phases: ReadonlyArray<Phase>
  readonly tests: TestSummary | null
  /** How the tests' HTTP calls were answered, and per test how many were live, recorded or replayed. */
  readonly http: HttpSection | null
  /** Every external call with its tokens and estimated cost, per test and in total; the budget. */
  readonly cost: CostLedger.Summary | null
  readonly files: { readonly report: string; readonly junit: string; readonly summary: string }
}

/** The report's `http` section. */
export interface HttpSection {
  readonly mode: HttpRecorder.Mode
  readonly cassettes: string
  readonly cassetteCount: number
  readonly placeholders: ReadonlyArray<string>
  readonly tests: ReadonlyArray<{ readonly test: string; readonly live: number; readonly recorded: number; readonly replayed: number }>
}

/** The phases of a lane run, in order; a failure names the one it happened in. */
export const phaseNames = ["stand-ins", "run id", "guard", "preflight", "reset", "tests", "leak check", "sweep"] as const

/** The lane ended in failure; the phases already printed why. */
export class LaneRunError extends Data.TaggedError("LaneRunError")<{
  readonly phase: typeof phaseNames[number]
  readonly detail: string
}> {
  override get message(): string {
    return `workflow-live run failed in phase \`${this.phase}\`: ${this.detail}`
  }
}

const useColor = process.stdout.isTTY === true && process.env.NO_COLOR === undefined
const paint = (code: string, text: string): string => useColor ? `\u001b[${code}m${text}\u001b[0m` : text
const mark = (status: Phase["status"]): string =>
  status === "pass" ? paint("32", "✓") : status === "skip" ? paint("33", "↷") : paint("31", "✗")

const totalCalls = (summary: TestSummary): number =>
  Object.values(summary.externalCalls).reduce((a, b) => a + b, 0)

const formatMs = (ms: number): string => ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`

const printPhase = (phase: Phase): Effect.Effect<void> =>
  Console.log(`  ${mark(phase.status)} ${phase.name.padEnd(10)} ${formatMs(phase.ms).padStart(9)}  ${phase.detail}`)

// the phase line shows the cause itself; the full message follows at the end of the run
const firstLine = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  const text = failure._tag === "Some" && failure.value instanceof LaneRunError ? failure.value.detail : renderCause(cause)
  return text.split("\n")[0] ?? ""
}

/** Runs one phase: times it, prints its line, records it. */
const phase = <A, E, R>(
  phases: Array<Phase>,
  name: string,
  effect: Effect.Effect<A, E, R>,
  describe: (a: A) => string
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const exit = yield* Effect.exit(effect)
    const ms = (yield* Clock.currentTimeMillis) - start
    const entry: Phase = exit._tag === "Success"
      ? { name, status: "pass", ms, detail: describe(exit.value) }
      : { name, status: "fail", ms, detail: firstLine(exit.cause) }
    phases.push(entry)
    yield* printPhase(entry)
    return yield* exit
  })

/** Collects results from Vitest's reporter events, including each test's external calls (task meta). */
const makeCollector = () => {
  const summary = {
    passed: 0,
    failed: 0,
    skipped: 0,
    total: 0,
    unhandledErrors: 0,
    externalCalls: {} as Record<string, number>,
    failures: [] as Array<{ name: string; error: string }>
  }
  const reporter = {
    onTestCaseResult(test: TestCase) {
      const state = test.result().state
      summary.total++
      if (state === "passed") summary.passed++
      else if (state === "failed") {
        summary.failed++
        summary.failures.push({
          name: test.fullName,
          error: test.result().errors?.[0]?.message?.split("\n")[0] ?? "failed"
        })
      } else summary.skipped++
      const calls = (test.meta() as Record<string, unknown>)["externalCalls"]
      if (typeof calls === "object" && calls !== null) {
        for (const [origin, n] of Object.entries(calls as Record<string, number>)) {
          summary.externalCalls[origin] = (summary.externalCalls[origin] ?? 0) + n
        }
      }
    },
    onTestRunEnd(_modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>) {
      summary.unhandledErrors += errors.length
    }
  }
  return { summary, reporter }
}

/** Starts the `workflow-live` project in this process and waits for it; cancelled and closed on interruption. */
const runVitest = (
  passthrough: ReadonlyArray<string>,
  junitFile: string
): Effect.Effect<TestSummary, LaneRunError> =>
  Effect.gen(function*() {
    const { createVitest, parseCLI } = yield* Effect.promise(() => import("vitest/node"))
    const { filter, options } = yield* Effect.try({
      try: () => parseCLI(["vitest", "run", ...passthrough]),
      catch: (e) => new LaneRunError({ phase: "tests", detail: `bad Vitest arguments: ${String(e)}` })
    })
    const collector = makeCollector()
    // `--reporter` arrives as `reporter` and would replace the lane's own reporters: merge it into `reporters`
    const { reporter, ...rest } = options as typeof options & { reporter?: unknown }
    const requested = rest.reporters ?? reporter
    const userReporters = requested === undefined ? ["default"] : Array.isArray(requested) ? requested : [requested]
    process.env.TEST = "true"
    process.env.VITEST = "true"
    process.env.NODE_ENV ??= "test"
    const ours = {
      SIGINT: process.listeners("SIGINT"),
      SIGTERM: process.listeners("SIGTERM"),
      unhandledRejection: process.listeners("unhandledRejection")
    }
    const vitest = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          createVitest("test", {
            ...rest,
            run: true,
            watch: false,
            project: ["workflow-live"],
            reporters: [
              ...(userReporters as Array<never>),
              ["junit", { outputFile: junitFile }] as never,
              collector.reporter as never
            ]
          }),
        catch: (e) => new LaneRunError({ phase: "tests", detail: `Vitest did not start: ${String(e)}` })
      }),
      (vitest: Vitest) => Effect.promise(() => vitest.close()).pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore)
    )
    // Vitest's logger exits the process on SIGINT/SIGTERM at once, which would skip the sweep: the
    // lane's own handler (interrupt, cancel Vitest, sweep, exit 130/143) is the one that must run.
    // For the same reason its unhandled-rejection handler goes (a worker killed by Ctrl-C makes tinypool
    // reject "Channel closed"): a rejection is counted as an unhandled error of the run instead.
    for (const event of ["SIGINT", "SIGTERM", "unhandledRejection"] as const) {
      for (const listener of process.listeners(event as "SIGINT")) {
        if (!(ours[event] as Array<unknown>).includes(listener)) process.off(event as "SIGINT", listener)
      }
    }
    const onRejection = (reason: unknown) => {
      if (collector.summary.unhandledErrors++ > 0) return
      process.stderr.write(`workflow-live: unhandled rejection during the tests: ${reason instanceof Error ? reason.message : String(reason)}\n`)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process.on("unhandledRejection", onRejection)),
      () => Effect.sync(() => process.off("unhandledRejection", onRejection))
    )
    yield* Effect.tryPromise({
      try: () => vitest.start(filter),
      catch: (e) => new LaneRunError({ phase: "tests", detail: String(e) })
    }).pipe(
      Effect.onInterrupt(() =>
        Effect.promise(() => vitest.cancelCurrentRun("keyboard-input")).pipe(
          Effect.timeout(Duration.seconds(5)),
          Effect.ignore
        )
      )
    )
    return collector.summary
  }).pipe(Effect.scoped)

const httpLine = (http: HttpSection): string =>
  `http: ${http.mode}` + (http.mode === "live" ? "" : ` (${http.cassetteCount} cassette(s) in ${http.cassettes})`) +
  (http.placeholders.length === 0 ? "" : `; placeholders for ${http.placeholders.join(", ")}`)

const markdownSummary = (report: LaneReport): string => {
  const rows = report.phases.map((p) => `| ${p.name} | ${p.status} | ${formatMs(p.ms)} | ${p.detail.replace(/\|/g, "\\|")} |`)
  const t = report.tests
  return [
    `### workflow-live: ${report.outcome}`,
    "",
    `Run \`${report.runId}\` on \`${report.target?.database ?? "?"}\`, ${formatMs(report.durationMs)}.` +
    (t === null ? "" : ` Tests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped.`) +
    (report.skipReason === null ? "" : ` **Skipped:** ${report.skipReason}`),
    "",
    "| phase | status | time | detail |",
    "|---|---|---|---|",
    ...rows,
    "",
    ...(report.http === null ? [] : [`${httpLine(report.http)}.`, ""]),
    ...(report.cost === null ? [] : [CostLedger.renderMarkdown(report.cost)])
  ].join("\n")
}

const httpTests = (summary: CostLedger.Summary | null): HttpSection["tests"] =>
  (summary?.tests ?? []).map(({ live, recorded, replayed, test }) => ({ test, live, recorded, replayed }))

/** The APIs of a preflight spec: their base URL variables and credential variables. */
const apisOf = (spec: Preflight.Spec): HttpRecorder.Apis => ({
  baseVariables: spec.http.map((h) => h.urlVariable),
  secretVariables: [
    ...spec.http.flatMap((h) => h.auth === undefined ? [] : [h.auth.variable]),
    ...spec.env.filter((e) => e.secret && e.variable !== WorkflowLiveConfig.dsnVariable).map((e) => e.variable)
  ].filter((v, i, all) => all.indexOf(v) === i)
})

/** Options of a lane run. */
export interface RunOptions {
  /** Arguments passed through to Vitest (`-t name`, `--shard 1/2`, reporters...). */
  readonly vitestArgs: ReadonlyArray<string>
  /** Where report.json, junit.xml and summary.md go. */
  readonly reportDir: string
  /** Start local stand-ins for the LLM and tender APIs and point the lane's env at them. */
  readonly standIns?: boolean | undefined
  /** `live`, `record` or `replay`; overrides `WORKFLOW_LIVE_HTTP`. */
  readonly http?: string | undefined
}

/** The lane, end to end. Fails with LaneRunError when any phase fails. */
export const run = (options: RunOptions): Effect.Effect<LaneReport, LaneRunError> =>
  Effect.gen(function*() {
    const phases: Array<Phase> = []
    const startedAt = new Date()
    const t0 = Date.now()
    const dir = resolve(options.reportDir)
    mkdirSync(dir, { recursive: true })
    // preflight.json goes with the run's other reports
    process.env.WORKFLOW_LIVE_REPORT_DIR = dir
    const files = { report: join(dir, "report.json"), junit: join(dir, "junit.xml"), summary: join(dir, "summary.md") }
    let target: DsnGuard.VerifiedTarget | undefined
    let tests: TestSummary | null = null
    let runId = ""
    let skipReason: string | null = null
    let written: LaneReport | undefined
    let http: HttpSection | null = null
    let ledger: CostLedger.CostLedger | undefined
    const costSummary = (): CostLedger.Summary | null => ledger?.summary() ?? null

    const finish = (outcome: LaneReport["outcome"]): LaneReport => {
      const report: LaneReport = {
        runId,
        target: target === undefined
          ? null
          : { dsn: target.masked, host: target.host, port: target.port, database: target.database },
        startedAt: startedAt.toISOString(),
        durationMs: Date.now() - t0,
        outcome,
        skipReason,
        phases,
        tests,
        http: http === null ? null : { ...http, tests: httpTests(costSummary()) },
        cost: costSummary(),
        files
      }
      writeFileSync(files.report, JSON.stringify(report, null, 2))
      written = report
      const md = markdownSummary(report)
      writeFileSync(files.summary, md)
      if (process.env.GITHUB_STEP_SUMMARY) appendFileSync(process.env.GITHUB_STEP_SUMMARY, `${md}\n`)
      return report
    }

    const body = Effect.gen(function*() {
      yield* Console.log(`workflow-live run (report: ${files.report})`)
      // the HTTP mode and the budget are settings of the preflight: a typo stops the lane before anything runs
      const [httpSettings, ledgerSettings] = yield* Effect.all([HttpRecorder.settings(options.http), CostLedger.settings]).pipe(
        Effect.mapError((e) => new LaneRunError({ phase: "preflight", detail: e.message }))
      )
      if (options.standIns === true && httpSettings.mode === "replay") {
        yield* Console.log(paint("33", "  replay: the stand-ins are not started (nothing is called)"))
      } else if (options.standIns === true) {
        const standIns = yield* StandIns.make().pipe(
          Effect.mapError((e) => new LaneRunError({ phase: "stand-ins", detail: e.message }))
        )
        Object.assign(process.env, standIns.env)
        yield* Console.log(
          paint("33", `  using local stand-ins, not the real APIs: tenders ${standIns.tendersApiUrl}, LLM ${standIns.llmBaseUrl}`)
        )
      }
      const resolvedRunId = yield* phase(
        phases,
        "run id",
        RunId.resolve.pipe(Effect.mapError((e) => new LaneRunError({ phase: "run id", detail: e.message }))),
        (id) => id
      )
      runId = resolvedRunId
      process.env[RunId.variable] = runId

      target = yield* phase(
        phases,
        "guard",
        DsnGuard.make().pipe(
          Effect.provide(WorkflowLiveConfig.layerConfig),
          Effect.mapError((e) => new LaneRunError({ phase: "guard", detail: e.message }))
        ),
        (t) => `${t.database} on ${t.host}:${t.port}`
      )
      const verifiedTarget = target

      const replay = httpSettings.mode === "replay"
        ? { cassettes: HttpRecorder.countCassettes(httpSettings.cassettes), dir: httpSettings.cassettes }
        : undefined
      const report = yield* phase(
        phases,
        "preflight",
        Preflight.check({ replay }).pipe(
          Effect.mapError((e) => new LaneRunError({ phase: "preflight", detail: String(e) })),
          Effect.tap((report) =>
            report.verdict === "pass"
              ? Effect.void
              : Console.error(`\n${Preflight.render(report, { colour: Preflight.colourFor(process.stderr) })}\n`)
          ),
          Effect.filterOrFail(
            (report) => report.verdict !== "fail",
            (report) =>
              new LaneRunError({
                phase: "preflight",
                detail: new Preflight.PreflightError({ reason: "checks-failed", report }).message
              })
          )
        ),
        (r) =>
          r.verdict === "skip"
            ? `SKIP: ${r.skipReason ?? ""}`
            : `${r.rows.length} checks passed${r.file === undefined ? "" : ` (${r.file})`}`
      )
      if (report.verdict === "skip") {
        skipReason = report.skipReason ?? "skipped by preflight"
        phases[phases.length - 1] = { ...phases[phases.length - 1]!, status: "skip" }
      } else {
        yield* phase(
          phases,
          "reset",
          DatabaseReset.fromConfig(verifiedTarget).pipe(
            Effect.provide(WorkflowLiveConfig.layerConfig),
            Effect.mapError((e) => new LaneRunError({ phase: "reset", detail: e.message }))
          ),
          (r) =>
            `${r.mode === "warm" ? `cloned ${r.template}` : "created"}, ${r.applied.length} migration(s) applied` +
            (r.terminated.length === 0 ? "" : `, ${r.terminated.length} session(s) terminated`)
        )
        // until the lane ends, another lane's reset on this server waits instead of dropping our database
        yield* DatabaseReset.protect(verifiedTarget).pipe(
          Effect.mapError((e) => new LaneRunError({ phase: "reset", detail: e.message }))
        )
      }

      // one ledger for the run, in this process: every worker asks it before a call is sent
      ledger = yield* CostLedger.make(ledgerSettings)
      const prepared = HttpRecorder.prepare(httpSettings, {
        apis: apisOf(Preflight.defaultSpec),
        ledger,
        allow: [`${verifiedTarget.host}:${verifiedTarget.port}`]
      })
      http = {
        mode: httpSettings.mode,
        cassettes: httpSettings.cassettes,
        cassetteCount: prepared.cassetteCount,
        placeholders: prepared.placeholders,
        tests: []
      }
      markPrepared({ runId, skipReason, http: prepared.provided })
      process.env.WORKFLOW_LIVE_LANE = "1"

      tests = yield* phase(
        phases,
        "tests",
        runVitest(options.vitestArgs, files.junit),
        (s) => {
          const calls = totalCalls(s)
          return `${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${calls} external call(s)`
        }
      )
      const verified = target
      if (skipReason === null) yield* phase(
        phases,
        "leak check",
        Fixtures.onTarget(verified, Fixtures.leaks(resolvedRunId)).pipe(
          Effect.mapError((e) => new LaneRunError({ phase: "leak check", detail: e.message })),
          Effect.flatMap((counts) => {
            const left = Object.entries(counts).filter(([, n]) => n > 0)
            return left.length === 0
              ? Effect.succeed("no row of this run left")
              : Effect.fail(
                new LaneRunError({
                  phase: "leak check",
                  detail: `rows of run ${resolvedRunId} left behind: ${left.map(([t, n]) => `${t} ${n}`).join(", ")}; ` +
                    "a fixture did not clean up (see Troubleshooting: `leaked`)"
                })
              )
          })
        ),
        (message) => message
      )
      const exceeded = costSummary()?.budget.exceeded ?? null
      if (tests.failed > 0 || tests.unhandledErrors > 0 || (tests.total === 0 && skipReason === null) || exceeded !== null) {
        phases[phases.length - 1] = { ...phases[phases.length - 1]!, status: "fail" }
        return yield* new LaneRunError({
          phase: "tests",
          detail: exceeded !== null
            ? `budget exceeded (${exceeded.reason}, ${exceeded.setting}=${exceeded.limit}) at ${exceeded.request} in "${exceeded.test}"`
            : tests.total === 0
            ? "no test ran: check the filter and test/workflow_live"
            : `${tests.failed} failed, ${tests.unhandledErrors} unhandled error(s)`
        })
      }
    })

    // onExit, not Effect.exit: on SIGINT/SIGTERM the fiber is interrupted and only finalizers still run
    return yield* body.pipe(
      Effect.scoped,
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          const interrupted = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
          if (interrupted && target !== undefined && runId !== "") {
            // Vitest skips finalizers on a signal: remove what the interrupted tests left
            yield* phase(
              phases,
              "sweep",
              Fixtures.onTarget(target, Fixtures.sweep(runId as RunId.RunIdString)).pipe(
                Effect.timeout(Duration.seconds(15))
              ),
              (swept) => `removed ${Object.values(swept).reduce((a, b) => a + b, 0)} row(s) of run ${runId}`
            ).pipe(Effect.ignore)
          }
          const outcome: LaneReport["outcome"] = Exit.isSuccess(exit)
            ? (skipReason !== null ? "skipped" : "passed")
            : interrupted
            ? "interrupted"
            : "failed"
          const report = finish(outcome)
          const t = tests as TestSummary | null
          const calls = t === null ? 0 : totalCalls(t)
          const verdict = outcome === "passed"
            ? paint("32", "PASSED")
            : outcome === "skipped"
            ? paint("33", "SKIPPED")
            : paint("31", outcome.toUpperCase())
          yield* Console.log(
            [
              "",
              `  ${verdict}  ${t === null ? "no tests ran" : `${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`}` +
              `, ${calls} external call(s), run ${runId || "?"}, ${formatMs(report.durationMs)}`,
              ...(skipReason === null ? [] : [`  ${paint("33", "skipped:")} ${skipReason}`]),
              ...(report.http === null ? [] : [`  ${httpLine(report.http)}`]),
              ...(report.cost === null ? [] : [`  ${CostLedger.render(report.cost)}`]),
              `  report: ${files.report}`,
              ...(t === null ? [] : [`  junit:  ${files.junit}`])
            ].join("\n")
          )
        })
      ),
      // `finish` ran in onExit, so the report exists whenever the body succeeded
      Effect.map(() => written!)
    )
  })
