/**
 * `workflow-live demo`: the real lane on a machine with nothing set up. A throwaway PostgreSQL from npm
 * (its own port and temp dir, never a server you already run), local stand-ins for the LLM and tender
 * APIs, then the same lane as `run`; everything is torn down afterwards, also on Ctrl-C.
 */
import { Console, Effect, Redacted } from "effect"
import * as EmbeddedPostgres from "../../internal/embeddedPostgres.js"
import { colourFor } from "../../internal/terminal.js"
import * as WorkflowLiveConfig from "../../WorkflowLiveConfig.js"
import { passthrough } from "../argv.js"
import { inputs, runLane, standIns } from "./run.js"

const banner = (lines: ReadonlyArray<string>): string => {
  const width = Math.max(...lines.map((l) => l.length)) + 4
  const bar = "=".repeat(width)
  return [bar, ...lines.map((l) => `  ${l}`), bar].join("\n")
}

/** The zero-setup demo; the arguments after `--` go to Vitest as in `run`. */
export const handler = () =>
  Effect.gen(function*() {
    // the demo calls its stand-ins live, whatever WORKFLOW_LIVE_HTTP says
    const checked = yield* inputs(".workflow-live/demo", passthrough, false, "live")
    const server = yield* EmbeddedPostgres.make()
    // the demo's own server and database; whatever the shell had set is not used
    process.env[WorkflowLiveConfig.dsnVariable] = Redacted.value(server.dsn(WorkflowLiveConfig.workflowDatabase))
    for (const v of ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "WORKFLOW_LIVE_ON_MISSING"]) {
      delete process.env[v]
    }
    yield* Console.log(
      banner([
        "workflow-live DEMO: nothing here touches your own databases or APIs",
        `PostgreSQL: a throwaway server from npm on 127.0.0.1:${server.port}, data in ${server.dir} (removed at exit)`,
        "APIs:       local stand-ins on 127.0.0.1 for the LLM and the tender source",
        "Ctrl-C at any time: the lane stops, then the server is stopped and deleted with every row"
      ])
    )
    yield* standIns
    yield* runLane({
      ...checked,
      colour: colourFor(process.stdout),
      disposable: "the demo's throwaway server is deleted with all its data"
    })
  }).pipe(Effect.scoped, Effect.asVoid)
