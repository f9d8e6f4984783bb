/** `workflow-live run [--report-dir DIR] [--stand-ins] [--watch] [--keep-failed] [-- vitest args]`: the whole lane, one process, one report. */
import { Console, Effect, Option, type Scope } from "effect"
import type * as CostLedger from "../../CostLedger.js"
import * as ExternalCalls from "../../ExternalCalls.js"
import type * as HttpRecorder from "../../HttpRecorder.js"
import { colourFor, painter } from "../../internal/terminal.js"
import { keepSetting, keepValues, keepVariable } from "../../internal/variables.js"
import * as LaneInput from "../../LaneInput.js"
import type * as LaneReport from "../../LaneReport.js"
import * as StandIns from "../../StandIns.js"
import * as VitestArgs from "../../vitest/args.js"
import * as VitestLane from "../../vitest/lane.js"
import { passthrough } from "../argv.js"

// the report directory came from the variable when the option was not given
const reportDirSetting = (): string =>
  process.argv.some((arg) => arg === "--report-dir" || arg.startsWith("--report-dir=")) ? "--report-dir" : "WORKFLOW_LIVE_REPORT_DIR"

/** What the lane keeps: `--keep-failed`, else `WORKFLOW_LIVE_KEEP` (`none` or `failed`; anything else is refused). */
export const keep = (keepFailed: boolean): Effect.Effect<"none" | "failed", LaneInput.LaneInputError> => {
  const value = keepSetting()
  if (keepFailed) return Effect.succeed("failed")
  if (value === undefined) return Effect.succeed("none")
  return (keepValues as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as "none" | "failed")
    : Effect.fail(
      new LaneInput.LaneInputError({
        reason: "invalid-setting",
        setting: keepVariable,
        value,
        detail: `expected one of ${keepValues.join(", ")}`,
        fix: `export ${keepVariable}=failed to keep the rows of failed tests (or unset it), or pass --keep-failed`
      })
    )
}

/**
 * The lane's inputs, checked before anything runs: the report directory, the settings (with the HTTP
 * mode, `http` overriding `WORKFLOW_LIVE_HTTP`, and the budget), the Vitest arguments.
 */
export const inputs = (
  reportDir: string,
  passthrough: ReadonlyArray<string>,
  watch: boolean,
  http?: string | undefined,
  keepFailed: boolean = false
): Effect.Effect<
  {
    readonly reportDir: string
    readonly external: ExternalCalls.Settings
    readonly args: VitestArgs.VitestArgs
    readonly keep: "none" | "failed"
  },
  LaneInput.LaneInputError | VitestArgs.VitestArgsError | HttpRecorder.HttpRecorderError | CostLedger.CostLedgerError
> =>
  Effect.gen(function*() {
    const dir = yield* LaneInput.reportDirectory(reportDir, reportDirSetting())
    yield* LaneInput.settings
    const external = yield* ExternalCalls.settings(http)
    const kept = yield* keep(keepFailed)
    const args = yield* VitestArgs.parse(passthrough)
    return { reportDir: dir, external, args: { ...args, watch: args.watch || watch }, keep: kept }
  })

/** Starts the local API stand-ins and points this process's environment (and so the tests') at them. */
export const standIns: Effect.Effect<void, StandIns.StandInsError, Scope.Scope> = Effect.gen(function*() {
  const started = yield* StandIns.make()
  Object.assign(process.env, started.env)
  yield* Console.log(
    painter(colourFor(process.stdout))(
      "33",
      `  using local stand-ins, not the real APIs: tenders ${started.tendersApiUrl}, LLM ${started.llmBaseUrl}`
    )
  )
})

/** Runs the lane; its report's exit code becomes the process's. */
export const runLane = (options: VitestLane.Options): Effect.Effect<LaneReport.Report> =>
  Effect.zipRight(
    Console.log(`workflow-live run (report: ${options.reportDir}/report.json)`),
    VitestLane.run(options)
  )

/** The lane command's handler; the arguments after `--` go to Vitest once checked. */
export const handler = (
  { http, keepFailed, reportDir, standIns: useStandIns, watch }: {
    readonly reportDir: string
    readonly standIns: boolean
    readonly watch: boolean
    readonly http: Option.Option<string>
    readonly keepFailed: boolean
  }
) =>
  Effect.gen(function*() {
    const checked = yield* inputs(reportDir, passthrough, watch, Option.getOrUndefined(http), keepFailed)
    if (checked.keep === "failed" && checked.args.watch) {
      yield* Console.log("  watch: failed tests' rows are not kept (each pass creates the same keys again)")
    }
    // in replay nothing is called: starting the stand-ins would only suggest otherwise
    if (useStandIns && checked.external.http.mode === "replay") {
      yield* Console.log("  replay: the stand-ins are not started (nothing is called)")
    } else if (useStandIns) yield* standIns
    yield* runLane({ ...checked, colour: colourFor(process.stdout) })
  }).pipe(Effect.scoped)
