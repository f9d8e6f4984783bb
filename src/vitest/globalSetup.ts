/**
 * Global setup of the `workflow-live` Vitest project. It runs however the project is started (the mise
 * task, `workflow-live run`, an editor, plain `vitest --project workflow-live`), so there is no path
 * to the live suites around the guard, the preflight and the reset.
 */
import { Effect, Exit } from "effect"
import type { TestProject } from "vitest/node"
import * as DsnGuard from "../DsnGuard.js"
import { renderCause } from "../internal/render.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"

const start = Effect.gen(function*() {
  // 1. guard: refuse a wrong DSN before anything connects
  const target = yield* DsnGuard.make()
  // 2. preflight (issue 4)
  // 3. reset (issue 3)
  // 4. run id (issue 5)
  return target
}).pipe(Effect.provide(WorkflowLiveConfig.layerConfig))

export default async function globalSetup(_project: TestProject): Promise<() => Promise<void>> {
  const exit = await Effect.runPromiseExit(start)
  if (Exit.isFailure(exit)) {
    // Vitest would bury a thrown error under "No test files found": print ours and stop here.
    process.stderr.write(`\nworkflow-live: the lane did not start.\n\n${renderCause(exit.cause)}\n\n`)
    process.exit(1)
  }
  return async () => {
    // teardown: leak check (issue 5)
  }
}
