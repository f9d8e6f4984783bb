/** `workflow-live run [--report-dir DIR] [--stand-ins] [--watch] [--keep-failed] [-- vitest args]`: the whole lane, one process, one report. */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { describe } from "./help.js"
import { lazy } from "./lazy.js"

const reportDirOption = Options.text("report-dir").pipe(
  Options.withDescription("Where report.json, junit.xml and summary.md go (default: $WORKFLOW_LIVE_REPORT_DIR or .workflow-live)"),
  Options.withDefault(process.env.WORKFLOW_LIVE_REPORT_DIR || ".workflow-live")
)

/** The lane command; everything after `--` goes to Vitest, once checked. */
export const run = lazy("run", {
  reportDir: reportDirOption,
  standIns: Options.boolean("stand-ins").pipe(
    Options.withDescription("Start local stand-ins for the LLM and tender APIs (127.0.0.1) and use them instead of the env's URLs")
  ),
  watch: Options.boolean("watch").pipe(
    Options.withDescription("Reset once, then rerun the tests on every change, sweeping the run's rows between runs; Ctrl-C ends")
  ),
  http: Options.text("http").pipe(
    Options.withDescription(
      "live (call the APIs; the default), record (call them and write cassettes) or replay (answer from the " +
        "cassettes, no external connection); overrides $WORKFLOW_LIVE_HTTP"
    ),
    Options.optional
  ),
  keepFailed: Options.boolean("keep-failed").pipe(
    Options.withDescription(
      "Leave the rows of failed tests in the workflow database and print a psql command that shows them " +
        "(the next run's reset removes them); same as WORKFLOW_LIVE_KEEP=failed"
    )
  )
}, () => import("./handlers/run.js")).pipe(
  Command.withDescription(describe(
    "Run the lane: run id, guard, preflight, reset, protect, the workflow-live Vitest project, leak check, sweep, report.",
    [
      "USAGE: workflow-live run [--report-dir DIR] [--stand-ins] [--watch] [--http live|record|replay] [--keep-failed] [-- vitest args]",
      "Arguments after -- go to Vitest (-t name, file filters, --shard 1/2, --reporter); an option Vitest does not know is refused.",
      "Exit: 0 passed or skipped, 1 failed, 130 on Ctrl-C, 143 on SIGTERM (after the run's rows are swept)."
    ]
  ))
)
