/**
 * Global setup of the `workflow-live` Vitest project. It runs however the project is started (the mise
 * task, `workflow-live run`, an editor, plain `vitest --project workflow-live`), so there is no path to
 * the live suites around the guard, the preflight and the reset: either the lane that started this Vitest
 * already ran them (`workflow-live run`, see handoff.ts), or this runs the same lane lifecycle itself.
 */
import type { TestProject } from "vitest/node"
import * as Handoff from "./handoff.js"

export default async function globalSetup(project: TestProject): Promise<() => Promise<void>> {
  // started by a lane in this process: its run ID and skip decision are already provided
  if (Handoff.read(project.vitest) !== undefined) return async () => {}
  // loaded only on this path, so a lane started by `run` does not pay for its imports
  const { start } = await import("./direct.js")
  return start(project)
}
