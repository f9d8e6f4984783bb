/** The `workflow-live` command: one process for the whole lane. */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit } from "effect"
import { renderCause } from "../internal/render.js"
import { demo } from "./demo.js"
import { preflight } from "./preflight.js"
import { reset } from "./reset.js"
import { run } from "./run.js"
import { target } from "./target.js"

// Everything after `--` belongs to Vitest; @effect/cli would try to parse it.
const dash = process.argv.indexOf("--")
const argv = dash === -1 ? process.argv : process.argv.slice(0, dash)
const passthrough = dash === -1 ? [] : process.argv.slice(dash + 1)

const root = Command.make("workflow-live").pipe(
  Command.withDescription("Live workflow tests against PostgreSQL: guard, preflight, reset and run"),
  Command.withSubcommands([target, preflight, reset, run(passthrough), demo(passthrough)])
)

const cli = Command.run(root, { name: "workflow-live", version: "0.1.0" })

// `on`, not `once`: a Ctrl-C through `npx mise run` arrives more than once (from the terminal and forwarded by
// mise), and a second one with no listener left would kill the process mid-cleanup
let signal: NodeJS.Signals | undefined
for (const s of ["SIGINT", "SIGTERM"] as const) process.on(s, () => (signal ??= s))

const program = cli(argv).pipe(
  Effect.provide(NodeContext.layer),
  // typed errors get their own message, without a stack; @effect/cli already printed usage errors
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.void : Effect.sync(() => process.stderr.write(`\n${renderCause(cause)}\n`))
  )
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) =>
    onExit(
      signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : Exit.isFailure(exit) ? 1 : 0
    )
})
