/** `workflow-live prune`: list and remove what the harness left on the server (stale templates, spares, retired databases). */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import { describe } from "./help.js"
import { lazy } from "./lazy.js"

const dryRun = Options.boolean("dry-run").pipe(
  Options.withDescription(
    "Show what would be removed and how much disk it would free; remove nothing, and do not wait for a running reset or lane"
  )
)

/** Prints one line per harness-named database and what it did (or would do); fails (exit 1) with the prune's error. */
export const prune = lazy("prune", { dryRun }, () => import("./handlers/prune.js")).pipe(
  Command.withDescription(describe(
    "Remove the harness's stale databases on the server: templates of other migrations or harness versions, spares and " +
      "retired databases (named <db>__*, marked by the harness). Keeps the current template and spare and the workflow " +
      "database; waits for a running reset or lane (WORKFLOW_LIVE_LOCK_TIMEOUT).",
    ["USAGE: workflow-live prune [--dry-run]"]
  ))
)
