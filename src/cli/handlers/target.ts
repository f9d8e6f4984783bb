/** `workflow-live target`: the dry run. Which database would the lane reset, and does the guard accept it? */
import { Console, Effect } from "effect"
import * as DsnGuard from "../../DsnGuard.js"
import * as WorkflowLiveConfig from "../../WorkflowLiveConfig.js"

/** Prints the target and the guard's verdict; fails (exit 1) when the guard refuses. */
export const handler = () =>
  Effect.gen(function*() {
    const config = yield* WorkflowLiveConfig.WorkflowLiveConfig
    const verified = yield* DsnGuard.make().pipe(
      Effect.tapError(() => Console.error("workflow-live target: REFUSED\n"))
    )
    yield* Console.log(
      [
        "workflow-live target: ACCEPTED",
        DsnGuard.describe(verified),
        "",
        `  The lane would drop, recreate and migrate \`${verified.database}\` on ${verified.host}:${verified.port}.`,
        ...(config.developmentDsnSet
          ? [`  ${WorkflowLiveConfig.developmentDsnVariable} is set and ignored: the lane never borrows it.`]
          : [])
      ].join("\n")
    )
  }).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))
