/** `workflow-live run [-- vitest args]`: the whole lane, one process, one report. */
import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import { run as runLane } from "../internal/laneRun.js"

/** The lane command; `passthrough` is everything after `--`, handed to Vitest untouched. */
export const run = (passthrough: ReadonlyArray<string>) =>
  Command.make("run", {
    reportDir: Options.text("report-dir").pipe(
      Options.withDescription("Where report.json, junit.xml and summary.md go (default: $WORKFLOW_LIVE_REPORT_DIR or .workflow-live)"),
      Options.withDefault(process.env.WORKFLOW_LIVE_REPORT_DIR ?? ".workflow-live")
    ),
    standIns: Options.boolean("stand-ins").pipe(
      Options.withDescription("Start local stand-ins for the LLM and tender APIs (127.0.0.1) and use them instead of the env's URLs")
    ),
    http: Options.text("http").pipe(
      Options.withDescription(
        "live (call the APIs, the default), record (call them and write cassettes) or replay (answer from cassettes, " +
          "no external connection); overrides $WORKFLOW_LIVE_HTTP"
      ),
      Options.optional
    )
  }, ({ http, reportDir, standIns }) =>
    runLane({ vitestArgs: passthrough, reportDir, standIns, http: Option.getOrUndefined(http) }).pipe(Effect.asVoid)).pipe(
    Command.withDescription(
      "Run the lane: guard, preflight, reset, the workflow-live Vitest project, leak check, report. " +
        "Arguments after -- go to Vitest (-t name, --shard 1/2)."
    )
  )
