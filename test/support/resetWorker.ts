/**
 * One reset in its own process, for the "two resets at once" test: `node --import tsx
 * test/support/resetWorker.ts <database>`. Prints the result as JSON, or the error message and exit 1.
 */
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as TestDatabase from "./testDatabase.js"

const database = process.argv[2] ?? ""
const lockTimeout = process.argv[3] ?? "60 seconds"
let lockedAt = 0
// the last step ends while the lock is still held: a second reset can only take it later
let lastStepAt = 0
const program = DsnGuard.verify(
  Option.some(Redacted.make(TestDatabase.url(database))),
  {},
  { database }
).pipe(Effect.flatMap((target) => DatabaseReset.reset(target, {
  lockTimeout: lockTimeout as "60 seconds",
  onStep: (step) => Effect.sync(() => {
    lastStepAt = Date.now()
    if (step.name === "lock") lockedAt = lastStepAt
  })
})))

const exit = await Effect.runPromiseExit(program)
if (Exit.isSuccess(exit)) {
  process.stdout.write(JSON.stringify({ mode: exit.value.mode, steps: exit.value.steps, lockedAt, lastStepAt, doneAt: Date.now() }))
} else {
  const failure = Cause.failureOption(exit.cause)
  process.stdout.write(JSON.stringify(Option.isSome(failure)
    ? { reason: failure.value.reason, message: failure.value.message }
    : { defect: Cause.pretty(exit.cause) }))
  process.exitCode = 1
}
