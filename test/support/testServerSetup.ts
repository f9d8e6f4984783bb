/**
 * Global setup of the integration project: decides the run's PostgreSQL once (test/support/testServer.ts),
 * prints which one, and publishes it as WORKFLOW_LIVE_TEST_SERVER to every test file and subprocess (Vitest
 * starts its workers after global setups, with this process's environment). A throwaway server is stopped
 * and removed at teardown; if Vitest exits without teardown (Ctrl-C), its watchdog removes it.
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { renderCause } from "../../src/internal/render.js"
import * as TestServer from "./testServer.js"

export default async function setup(): Promise<() => Promise<void>> {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(TestServer.acquire().pipe(Scope.extend(scope)))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    // a thrown error would come after Vitest's "No test files found" and with a stack: the message is the
    // whole story, so it is all that is printed
    process.stderr.write(`\n${renderCause(exit.cause)}\n\n`)
    process.exit(1)
  }
  process.env[TestServer.variable] = Redacted.value(exit.value.url)
  console.log(`Test server: ${exit.value.description}`)
  return () => Effect.runPromise(Scope.close(scope, Exit.void))
}
