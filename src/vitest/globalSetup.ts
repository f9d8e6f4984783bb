/**
 * Global setup of the `workflow-live` Vitest project. It runs however the project is started (the mise
 * task, `workflow-live run`, an editor, plain `vitest --project workflow-live`), so there is no path
 * to the live suites around the guard, the preflight and the reset.
 */
import type { TestProject } from "vitest/node"
import { prepared } from "./prepared.js"
import { skipKey } from "./skipReason.js"

// RunId.provideKey, spelt out: importing RunId here would load Effect on the fast path below
const runIdKey = "workflowLiveRunId"
// HttpRecorder.provideKey, spelt out for the same reason
const httpKey = "workflowLiveHttp"

declare module "vitest" {
  export interface ProvidedContext {
    workflowLiveRunId: string
  }
}

export default async function globalSetup(project: TestProject): Promise<() => Promise<void>> {
  // Started by `workflow-live run` in this process: it already ran guard, preflight and reset, and does
  // the leak check itself. Only code in this process can leave this marker (see prepared.ts).
  const byRun = prepared()
  if (byRun !== undefined) {
    project.provide(runIdKey, byRun.runId)
    if (byRun.http !== undefined) project.provide(httpKey, byRun.http)
    if (byRun.skipReason !== null) project.provide(skipKey, byRun.skipReason)
    return async () => {}
  }
  const { start } = await import("./laneStart.js")
  return start(project)
}
