/**
 * Starts a throwaway server, prints `{"dir","port","pid"}` on one line and waits forever: the integration
 * test kills this process with SIGKILL (no finalizer runs) and checks that the watchdog removed everything.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const server = yield* EmbeddedPostgres.make({ authMethod: "trust" })
  const pid = Number(readFileSync(join(server.dir, "data", "postmaster.pid"), "utf8").split("\n")[0])
  process.stdout.write(`${JSON.stringify({ dir: server.dir, port: server.port, pid })}\n`)
  return yield* Effect.never
})))
