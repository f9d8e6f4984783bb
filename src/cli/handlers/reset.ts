/** `workflow-live reset`: swap in the spare (or drop, create or clone), migrate and identity-check the workflow database now. */
import { Console, Effect } from "effect"
import { spawn } from "node:child_process"
import * as DatabaseReset from "../../DatabaseReset.js"
import * as DsnGuard from "../../DsnGuard.js"
import * as WorkflowLiveConfig from "../../WorkflowLiveConfig.js"

/** Set (to "1") on the detached process that does a reset's deferred work; no one else sets it. */
const deferredVariable = "WORKFLOW_LIVE_RESET_DEFERRED"

/**
 * The deferred work (drop the database renamed away, clone the next spare) goes to a detached copy of this
 * command, so the user's process ends right after the result line. That copy waits for the reset lock, like
 * any reset; a reset that comes first finds no spare and clones instead, and its own deferred work cleans up.
 */
const handOff = Effect.sync(() => {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "reset"], {
    detached: true,
    stdio: "ignore",
    env: { ...process.env, [deferredVariable]: "1" }
  })
  child.on("error", () => {})
  child.unref()
  return child.pid
})

/** Prints one line per step with its duration as the reset goes; fails (exit 1) with the reset's error. */
const resetNow = Effect.gen(function*() {
  const started = performance.now()
  const target = yield* DsnGuard.make()
  const guarded = performance.now() - started
  yield* Console.log(`workflow-live reset: \`${target.database}\` on ${target.host}:${target.port}`)
  const result = yield* DatabaseReset.fromConfig(target, {
    deferred: "leave",
    onLockWait: (holders) => Console.log(`  lock         waiting: ${DatabaseReset.describeHolders(holders)}`),
    onStep: (step) =>
      // the DSN guard ran just before: its time belongs to the guard line
      Console.log(DatabaseReset.renderStep(step.name === "guard" ? { ...step, millis: step.millis + guarded } : step))
  })
  yield* Console.log(
    DatabaseReset.renderStep({ name: "total", millis: performance.now() - started, detail: `${result.mode} reset` })
  )
  const pid = yield* handOff
  yield* Console.log(DatabaseReset.renderStep({
    name: "spare",
    millis: 0,
    detail: `left to a background process (pid ${pid ?? "?"}): drop what was renamed away, clone the next spare`
  }))
})

/**
 * The detached half: the deferred work under the reset lock. Its output goes nowhere; the line is for a
 * person who set the variable by hand, whose `reset` would otherwise seem to do nothing.
 */
const finishNow = Effect.zipRight(
  Effect.sync(() =>
    process.stderr.write(
      `workflow-live reset: ${deferredVariable}=1 is set, so this ran only the deferred work of an earlier reset ` +
        `(drop what it renamed away, clone the next spare), not a reset.\n  Fix: unset ${deferredVariable} ` +
        `(only the reset's own background process sets it).\n`
    )
  ),
  Effect.flatMap(DsnGuard.make(), (target) => DatabaseReset.finishDeferredFromConfig(target))
)

export const handler = () =>
  (process.env[deferredVariable] === "1" ? Effect.asVoid(finishNow) : resetNow).pipe(
    Effect.provide(WorkflowLiveConfig.layerConfig)
  )
