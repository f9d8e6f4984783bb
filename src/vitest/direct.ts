/**
 * The lane when Vitest was started directly (an editor, `vitest --project workflow-live`): the same
 * `Lane.prepare` before the first test file, the same `Lane.finish` at the global teardown, with the
 * verdict read from Vitest's own state. Vitest keeps its own exit code; a failure of the lane's own
 * phases (a leak) makes it non-zero too.
 */
import { Effect, Exit, Scope } from "effect"
import { resolve } from "node:path"
import type { TestProject } from "vitest/node"
import * as ExternalCalls from "../ExternalCalls.js"
import * as HttpRecorder from "../HttpRecorder.js"
import { renderCause } from "../internal/render.js"
import * as Lane from "../Lane.js"
import { colourFor } from "../internal/terminal.js"
import * as RunId from "../RunId.js"
import { fromModules } from "./results.js"
import { skipKey } from "./skipReason.js"

const print = (line: string) => Effect.sync(() => process.stderr.write(`${line}\n`))

/**
 * When the lane's lock is lost mid-run: say so, cancel the run and fail it. Returns what was lost, for the
 * teardown (which then neither leak-checks nor sweeps: the database may be another lane's now).
 */
const stopWhenLost = (project: TestProject, protection: Lane.Protection, scope: Scope.Scope): () => string | undefined => {
  let lost: string | undefined
  Effect.runSync(Effect.forkIn(
    protection.lost.pipe(
      Effect.catchAll((error) =>
        Effect.promise(async () => {
          lost = error instanceof Error ? error.message : String(error)
          process.stderr.write(`\nworkflow-live: the lane stops.\n\n${lost}\n\n`)
          process.exitCode = 1
          await project.vitest.cancelCurrentRun("test-failure")
        })
      )
    ),
    scope
  ))
  return () => lost
}

/** Runs `Lane.prepare`; returns the teardown (`Lane.finish`). Exits the process when the lane cannot start. */
export const start = async (project: TestProject): Promise<() => Promise<void>> => {
  const scope = Effect.runSync(Scope.make())
  const reportDir = resolve(process.env.WORKFLOW_LIVE_REPORT_DIR || ".workflow-live")
  const external = await Effect.runPromiseExit(ExternalCalls.settings())
  if (Exit.isFailure(external)) {
    process.stderr.write(`\nworkflow-live: the lane did not start.\n\n${renderCause(external.cause)}\n\n`)
    process.exit(1)
  }
  const lane = await Effect.runPromise(
    Lane.make({ reportDir, colour: colourFor(process.stderr), print, external: external.value })
  )
  await Effect.runPromise(Scope.extend(Lane.scrubOutput(lane), scope))
  await Effect.runPromise(Scope.extend(Lane.prepare(lane), scope))
  const snap = await Effect.runPromise(Lane.snapshot(lane))
  if (!Lane.isReady(snap)) {
    // the report says where it stopped; Vitest would bury a thrown error under "No test files found":
    // print ours and stop here
    await Effect.runPromise(Lane.finish(lane, { _tag: "NotRun" }, Scope.close(scope, Exit.void)).pipe(Effect.ensuring(Scope.close(scope, Exit.void))))
    process.stderr.write(`\nworkflow-live: the lane did not start.\n`)
    process.exit(1)
  }
  project.provide(RunId.provideKey, snap.runId!)
  const lost = snap.protection === undefined ? () => undefined : stopWhenLost(project, snap.protection, scope)
  if (snap.skip !== undefined) project.provide(skipKey, snap.skip)
  if (snap.external !== undefined) project.provide(HttpRecorder.provideKey, snap.external.provided)
  const started = performance.now() - await Effect.runPromise(Lane.sinceLastPhase(lane))
  return async () => {
    const vitest = project.vitest
    const tests = fromModules(vitest.state.getTestModules(), vitest.state.getUnhandledErrors() as never, {
      root: vitest.config.root,
      pattern: vitest.config.testNamePattern
    })
    const ms = performance.now() - started
    const message = lost()
    const outcome: Lane.TestsOutcome = message === undefined
      ? { _tag: "Completed", tests, ms }
      : { _tag: "Failed", message, unprotected: true, tests, ms }
    const report = await Effect.runPromise(
      Lane.finish(lane, outcome, Scope.close(scope, Exit.void)).pipe(
        Effect.ensuring(Scope.close(scope, Exit.void))
      )
    )
    if (report.exitCode !== 0) process.exitCode = report.exitCode
  }
}
