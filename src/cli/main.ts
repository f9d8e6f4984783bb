/** The `workflow-live` command: one process for the whole lane. */
import { Command } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { renderCause } from "../internal/render.js"
import { target } from "./target.js"

const root = Command.make("workflow-live").pipe(
  Command.withDescription("Live workflow tests against PostgreSQL: guard, preflight, reset and run"),
  Command.withSubcommands([target])
)

const cli = Command.run(root, { name: "workflow-live", version: "0.1.0" })

const exit = await Effect.runPromiseExit(cli(process.argv).pipe(Effect.provide(NodeContext.layer)))
if (Exit.isFailure(exit)) {
  // @effect/cli already printed usage errors; typed errors get their own message, without a stack
  const text = renderCause(exit.cause)
  if (text !== "") process.stderr.write(`${text}\n`)
  process.exitCode = 1
}
