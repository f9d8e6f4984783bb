/** The `workflow-live` command: one process for the whole lane. */
import { Command, ValidationError } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit } from "effect"
import { laneExitCode } from "../internal/exitCode.js"
import { renderCause } from "../internal/render.js"
import * as Signals from "../internal/signals.js"
import { colourFor, stripAnsi } from "../internal/terminal.js"
import { demo } from "./demo.js"
import { describe } from "./help.js"
import { preflight } from "./preflight.js"
import { prune } from "./prune.js"
import { reset } from "./reset.js"
import { run } from "./run.js"
import { target } from "./target.js"

// Everything after `--` belongs to Vitest; @effect/cli would try to parse it.
const dash = process.argv.indexOf("--")
const argv = dash === -1 ? process.argv : process.argv.slice(0, dash)
const passthrough = dash === -1 ? [] : process.argv.slice(dash + 1)

const root = Command.make("workflow-live").pipe(
  Command.withDescription(describe(
    "Live workflow tests against PostgreSQL: guard, preflight, reset and run.",
    [
      "USAGE: workflow-live target | preflight | reset | run [--report-dir DIR] [--stand-ins] [--watch] [-- vitest args] | demo [-- vitest args] | prune [--dry-run]",
      "`workflow-live <command> --help` shows a command's options."
    ]
  )),
  Command.withSubcommands([target, preflight, reset, run(passthrough), demo(passthrough), prune])
)

const cli = Command.run(root, { name: "workflow-live", version: "0.1.0" })

// help and messages are plain text when not on a TTY or with NO_COLOR
const plainConsole = (console: Console.Console): Console.Console => {
  const plain = (args: ReadonlyArray<unknown>) => args.map((a) => typeof a === "string" ? stripAnsi(a) : a)
  return {
    ...console,
    log: (...args) => console.log(...(colourFor(process.stdout) ? args : plain(args))),
    info: (...args) => console.info(...(colourFor(process.stdout) ? args : plain(args))),
    error: (...args) => console.error(...(colourFor(process.stderr) ? args : plain(args))),
    warn: (...args) => console.warn(...(colourFor(process.stderr) ? args : plain(args)))
  }
}

const usageFix = "  Fix: `workflow-live --help` lists the commands, `workflow-live <command> --help` their options; " +
  "arguments for Vitest go after `--` (`workflow-live run -- -t \"tender\"`).\n"

Signals.watch()

const program = Console.consoleWith((console) =>
  cli(argv).pipe(
    Effect.provide(NodeContext.layer),
    Effect.withConsole(plainConsole(console)),
    Effect.tapErrorCause((cause) => {
      const failure = Cause.failureOption(cause)
      // interruptions are the lane's to report
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      // @effect/cli printed what was wrong with the command line; add where the right form is
      if (failure._tag === "Some" && ValidationError.isValidationError(failure.value)) {
        return Effect.sync(() => process.stderr.write(usageFix))
      }
      return Effect.sync(() => process.stderr.write(`\n${renderCause(cause)}\n`))
    })
  )
)

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  const lane = laneExitCode()
  if (lane !== undefined) return lane
  const signal = Signals.receivedSignal()
  if (signal !== undefined) return Signals.exitCodeFor(signal)
  if (Exit.isSuccess(exit)) return 0
  const failure = Cause.failureOption(exit.cause)
  return failure._tag === "Some" && ValidationError.isValidationError(failure.value) ? 2 : 1
}

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) => onExit(exitCode(exit))
})
