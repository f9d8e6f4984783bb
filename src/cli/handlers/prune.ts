/** `workflow-live prune`: list and remove what the harness left on the server (stale templates, spares, retired databases). */
import { Console, Effect } from "effect"
import * as DsnGuard from "../../DsnGuard.js"
import * as Prune from "../../Prune.js"
import * as WorkflowLiveConfig from "../../WorkflowLiveConfig.js"

/** Prints one line per harness-named database and what it did (or would do); fails (exit 1) with the prune's error. */
export const handler = ({ dryRun }: { readonly dryRun: boolean }) =>
  Effect.gen(function*() {
    const target = yield* DsnGuard.make()
    yield* Console.log(
      `workflow-live prune: the harness's databases of \`${target.database}\` on ${target.host}:${target.port}` +
        (dryRun ? " (dry run: nothing is dropped)" : "")
    )
    const result = yield* Prune.fromConfig(target, { dryRun })
    yield* Console.log(Prune.render(result).join("\n"))
  }).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))
