/**
 * Global setup of the `workflow-live` Vitest project. It runs however the project is started (the mise
 * task, `workflow-live run`, an editor, plain `vitest --project workflow-live`), so there is no path
 * to the live suites around the guard.
 */
import { Effect, Exit } from "effect"
import type { TestProject } from "vitest/node"
import * as DsnGuard from "../DsnGuard.js"
import { renderCause } from "../internal/render.js"
import * as WorkflowLiveConfig from "../WorkflowLiveConfig.js"

const setup = DsnGuard.make().pipe(Effect.provide(WorkflowLiveConfig.layerConfig))

export default async function globalSetup(_project: TestProject): Promise<void> {
  const exit = await Effect.runPromiseExit(setup)
  if (Exit.isFailure(exit)) {
    // Vitest would bury a thrown error under "No test files found": print ours and stop here.
    process.stderr.write(`\nworkflow-live: the lane did not start.\n\n${renderCause(exit.cause)}\n\n`)
    process.exit(1)
  }
}
