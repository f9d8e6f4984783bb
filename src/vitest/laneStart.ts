/**
 * The live project's start when Vitest was launched without `workflow-live run` (an editor, plain
 * `vitest --project workflow-live`): preflight, guard, reset and run ID here, the leak check at teardown.
 * Loaded by globalSetup.ts only on that path, so a lane started by `run` does not pay for its imports.
 */
import { Effect, Exit, Scope } from "effect"
import type { TestProject } from "vitest/node"
import * as DatabaseReset from "../DatabaseReset.js"
import * as DsnGuard from "../DsnGuard.js"
import * as Fixtures from "../Fixtures.js"
import { renderCause } from "../internal/render.js"
import * as Preflight from "../Preflight.js"
import * as RunId from "../RunId.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"
import { skipKey } from "./skipReason.js"

// Preflight runs first, on its own: the guard's verdict is one of its rows, so a missing or refused DSN
// is reported together with every other problem, and a skipped lane never reaches the reset.
const preflight = Preflight.check().pipe(
  Effect.tap((report) =>
    Effect.sync(() =>
      process.stderr.write(`\n${Preflight.render(report, { colour: Preflight.colourFor(process.stderr) })}\n\n`)
    )
  ),
  Effect.filterOrFail(
    (report) => report.verdict !== "fail",
    (report) => new Preflight.PreflightError({ reason: "checks-failed", report })
  )
)

const prepare = (held: Scope.Scope) => Effect.gen(function*() {
  // 1. guard: refuse a wrong DSN before anything connects
  const target = yield* DsnGuard.make()
  // 2. preflight: already run (see `preflight` above), before this step
  // 3. reset: drop, create or clone, migrate, identity; on the target verified in step 1. Its lock stays
  // held (shared) until the teardown: another lane's reset waits instead of dropping the database under
  // the tests; if the lock is lost, the run is cancelled and fails
  const { protection } = yield* Scope.extend(
    DatabaseReset.protectFromConfig(target, {
      onStep: (step) => Effect.sync(() => process.stderr.write(`${DatabaseReset.renderStep(step)}\n`))
    }),
    held
  )
  // 4. run id: WORKFLOW_LIVE_RUN_ID (CI, `workflow-live run`) or generated once here; workers and
  // subprocesses inherit it through the environment, `inject` gets it through `project.provide`.
  // No sweep here: the reset just recreated the database, so no earlier run's rows can be left.
  const runId = yield* RunId.resolve
  process.env[RunId.variable] = runId
  return { target, runId, protection }
}).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))

/** When the lane's lock is lost mid-run: say so loudly, cancel the run, fail it. */
const onProtectionLost = (project: TestProject, protection: DatabaseReset.Protection, held: Scope.Scope) =>
  Effect.runSync(Effect.forkIn(
    protection.lost.pipe(
      Effect.catchAll((error) =>
        Effect.promise(async () => {
          process.stderr.write(`\nworkflow-live: the lane stops.\n\n${error.message}\n\n`)
          process.exitCode = 1
          await project.vitest.cancelCurrentRun("test-failure")
        })
      )
    ),
    held
  ))

/** Runs the whole start; returns the teardown (the leak check). Exits the process on failure. */
export const start = async (project: TestProject): Promise<() => Promise<void>> => {
  const checked = await Effect.runPromiseExit(preflight)
  if (Exit.isFailure(checked)) {
    process.stderr.write(`\nworkflow-live: the lane did not start.\n\n${renderCause(checked.cause)}\n\n`)
    process.exit(1)
  }
  if (checked.value.verdict === "skip") {
    const reason = checked.value.skipReason ?? "skipped by preflight"
    process.stderr.write(`\n*** workflow-live: the lane is SKIPPED, every live test reports as skipped ***\n    ${reason}\n\n`)
    project.provide(skipKey, reason)
    return async () => {}
  }
  const held = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(prepare(held))
  if (Exit.isFailure(exit)) {
    // Vitest would bury a thrown error under "No test files found": print ours and stop here.
    process.stderr.write(`\nworkflow-live: the lane did not start.\n\n${renderCause(exit.cause)}\n\n`)
    process.exit(1)
  }
  const { protection, runId, target } = exit.value
  project.provide(RunId.provideKey, runId)
  onProtectionLost(project, protection, held)
  return async () => {
    await Effect.runPromise(Scope.close(held, Exit.void))
    // leak check: a row still carrying this run's keys fails the lane, naming table and count
    const checked = await Effect.runPromiseExit(Fixtures.onTarget(target, Fixtures.leakCheck(runId)))
    if (Exit.isFailure(checked)) {
      const message = renderCause(checked.cause)
      process.stderr.write(`\nworkflow-live: the leak check failed.\n\n${message}\n\n`)
      process.exitCode = 1
      const error = new Error(message)
      error.stack = message
      throw error
    }
  }
}
