/** `workflow-live reset`: drop, create (or clone), migrate and identity-check the workflow database now. */
import { Console, Effect } from "effect"
import * as DatabaseReset from "../../DatabaseReset.js"
import * as DsnGuard from "../../DsnGuard.js"
import * as WorkflowLiveConfig from "../../WorkflowLiveConfig.js"

/** Prints one line per step with its duration as the reset goes; fails (exit 1) with the reset's error. */
export const handler = () =>
  Effect.gen(function*() {
    const started = performance.now()
    const target = yield* DsnGuard.make()
    const guarded = performance.now() - started
    yield* Console.log(`workflow-live reset: \`${target.database}\` on ${target.host}:${target.port}`)
    const result = yield* DatabaseReset.fromConfig(target, {
      onStep: (step) =>
        // the DSN guard ran just before: its time belongs to the guard line
        Console.log(DatabaseReset.renderStep(step.name === "guard" ? { ...step, millis: step.millis + guarded } : step))
    })
    yield* Console.log(
      DatabaseReset.renderStep({ name: "total", millis: performance.now() - started, detail: `${result.mode} reset` })
    )
  }).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))
