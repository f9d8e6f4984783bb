/** `workflow-live prune`: list and remove what the harness left on the server (stale templates, spares, retired databases). */
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import * as DsnGuard from "../DsnGuard.js"
import * as Prune from "../Prune.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"
import { describe } from "./help.js"

const dryRun = Options.boolean("dry-run").pipe(
  Options.withDescription("Show what would be removed and how much disk it would free; remove nothing")
)

/** Prints one line per harness-named database and what it did (or would do); fails (exit 1) with the prune's error. */
export const prune = Command.make("prune", { dryRun }, ({ dryRun }) =>
  Effect.gen(function*() {
    const target = yield* DsnGuard.make()
    yield* Console.log(
      `workflow-live prune: the harness's databases of \`${target.database}\` on ${target.host}:${target.port}` +
        (dryRun ? " (dry run: nothing is dropped)" : "")
    )
    const result = yield* Prune.fromConfig(target, { dryRun })
    yield* Console.log(Prune.render(result).join("\n"))
  }).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))
).pipe(Command.withDescription(describe(
  "Remove the harness's stale databases on the server: templates of other migrations or harness versions, spares and " +
    "retired databases (named <db>__*, marked by the harness). Keeps the current template and spare and the workflow " +
    "database; waits for a running reset or lane (WORKFLOW_LIVE_LOCK_TIMEOUT).",
  ["USAGE: workflow-live prune [--dry-run]"]
)))
