/**
 * The `workflow-live` command: one process for the whole lane. Only the commands' definitions load here
 * (what the parser and `--help` need); each command's code is its own chunk, loaded when it runs (lazy.ts).
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit, Layer } from "effect"
import { laneExitCode } from "../internal/exitCode.js"
import { renderCause } from "../internal/render.js"
import * as Signals from "../internal/signals.js"
import { colourFor, stripAnsi } from "../internal/terminal.js"
import packageJson from "../../package.json" with { type: "json" }
import { argv } from "./argv.js"
import { demo } from "./demo.js"
import { describe } from "./help.js"
import { preflight } from "./preflight.js"
import { prune } from "./prune.js"
import { reset } from "./reset.js"
import { run } from "./run.js"
import { target } from "./target.js"

const root = Command.make("workflow-live").pipe(
  Command.withDescription(describe(
    "Live workflow tests against PostgreSQL: guard, preflight, reset and run.",
    [
      "USAGE: workflow-live target | preflight | reset | run [--report-dir DIR] [--stand-ins] [--watch] [--http MODE] [--keep-failed] [-- vitest args] | demo [-- vitest args] | prune [--dry-run]",
      // @effect/cli lists the commands with their usage only: what each does, in a line
      [
        "  target     which database the lane would reset, and whether the DSN guard accepts it (no connection)",
        "  preflight  check the variables, the database and the APIs at once; print the report, write preflight.json",
        "  reset      reset tenderbot_workflow_test now: swap in the spare, or create or clone it and migrate",
        "  run        the lane: guard, preflight, reset, the workflow-live tests, leak check, sweep, report",
        "  demo       the lane on a throwaway PostgreSQL with local API stand-ins, all removed after",
        "  prune      drop the harness's stale databases on the server (--dry-run lists them)"
      ].join("\n"),
      "`workflow-live <command> --help` shows a command's options."
    ]
  )),
  // each is a `lazy` command: its definition here, its handler loaded when it runs
  Command.withSubcommands([target, preflight, reset, run, demo, prune])
)

const cli = Command.run(root, { name: "workflow-live", version: packageJson.version })

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
    // what @effect/cli needs, and no more: NodeContext also sets up a command executor and a worker
    // manager, which no command uses, on every start
    Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer)),
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
