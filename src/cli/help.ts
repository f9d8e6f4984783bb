/** The help text the commands share: how Vitest arguments are passed, and every environment variable. */
import * as HelpDoc from "@effect/cli/HelpDoc"

/** Every variable the lane reads, with what it does. */
export const environment: ReadonlyArray<readonly [string, string]> = [
  ["TENDERBOT_WORKFLOW_DB_DSN", "the workflow database (required; must name tenderbot_workflow_test)"],
  ["TENDERBOT_LLM_BASE_URL, TENDERBOT_LLM_API_KEY", "the LLM API the suites call (required)"],
  ["TENDERBOT_TENDERS_API_URL", "the tender source API the suites call (required)"],
  ["WORKFLOW_LIVE_ON_MISSING", "fail (default) or skip: what missing variables and unreachable APIs do"],
  ["WORKFLOW_LIVE_RUN_ID", "the run's ID (default: generated), part of every fixture key"],
  ["WORKFLOW_LIVE_REPORT_DIR", "where reports go (default .workflow-live; --report-dir overrides)"],
  ["WORKFLOW_LIVE_LOCK_TIMEOUT", "how long a reset waits for another lane (default 60 seconds)"],
  ["WORKFLOW_LIVE_CONFIRM_DROP", "the database name, to drop an unmarked database that is not empty"],
  ["WORKFLOW_LIVE_MIGRATIONS_DIR", "the NNNN_name.sql migrations (default: the package's migrations/)"],
  ["WORKFLOW_LIVE_HTTP", "live (default), record or replay: how the tests' HTTP calls are answered (--http overrides)"],
  ["WORKFLOW_LIVE_CASSETTES", "where record writes and replay reads cassettes (default test/workflow_live/__cassettes__)"],
  ["WORKFLOW_LIVE_MAX_CALLS", "the most external calls a run may send (default: no limit)"],
  ["WORKFLOW_LIVE_MAX_COST_USD", "the most a run may spend on LLM calls, in US dollars (default: no limit)"],
  ["WORKFLOW_LIVE_PRICES", "LLM prices per 1M input/output tokens, JSON or a JSON file, over the defaults"],
  ["WORKFLOW_LIVE_KEEP", "none (default) or failed: leave failed tests' rows for inspection (--keep-failed)"],
  ["NO_COLOR", "any value: no colour (colour is only used on a TTY anyway)"]
]

/** A command's description followed by the ENVIRONMENT section. */
export const describe = (text: string, more: ReadonlyArray<string> = []): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.p(text),
    ...more.map((line) => HelpDoc.p(line)),
    HelpDoc.h1("ENVIRONMENT"),
    HelpDoc.p(environment.map(([name, what]) => `${name}: ${what}`).join("\n"))
  ])
