/**
 * Setup file of the `workflow-live` project: when preflight decided to skip the lane
 * (`WORKFLOW_LIVE_ON_MISSING=skip`), every test of every live file is reported as skipped, and none of
 * the suites' hooks run: a suite's `layer(...)` would otherwise try to open a database that is not
 * configured, and fail instead of skipping.
 */
import type { RunnerTask, RunnerTestSuite } from "vitest"
import { beforeAll, inject } from "vitest"
import { getHooks, setHooks } from "vitest/suite"
import { skipKey } from "./skipReason.js"

const noHooks = () => ({ beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] })

// A skipped describe block would not report its tests at all (they would stay "pending"), so suites keep
// running but lose their hooks, and each test is marked skipped the way `ctx.skip(note)` marks it: Vitest
// reads a test's mode when it reaches it, and the main process learns its state from its result.
const skipAll = (task: RunnerTask, note: string): void => {
  if (task.type === "suite") {
    setHooks(task, noHooks())
    task.tasks.forEach((child) => skipAll(child, note))
  } else {
    task.mode = "skip"
    task.result = { state: "skip", pending: true, note } as NonNullable<RunnerTask["result"]>
  }
}

const reason = inject(skipKey)
if (reason !== undefined) {
  const skipLane = (file: RunnerTestSuite): void => {
    // the file's own top-level hooks come after this one in the same (live) array: drop them too
    const hooks = getHooks(file)
    hooks.beforeAll.splice(hooks.beforeAll.indexOf(skipLane as never) + 1)
    hooks.afterAll.length = 0
    hooks.beforeEach.length = 0
    hooks.afterEach.length = 0
    file.tasks.forEach((task) => skipAll(task, `workflow-live skipped: ${reason}`))
  }
  beforeAll(skipLane)
}
