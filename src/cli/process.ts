/**
 * The CLI's process: how a command's program runs as `workflow-live`, shared by the full CLI (main.ts) and
 * the lean entry of `workflow-live reset` (resetMain.ts). Plain text off a TTY or with NO_COLOR; a failure
 * rendered once on stderr; the exit code from the lane's verdict, else the signal received, else the exit.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit } from "effect"
import { laneExitCode } from "../internal/exitCode.js"
import { renderCause } from "../internal/render.js"
import * as Signals from "../internal/signals.js"
import { colourFor, stripAnsi } from "../internal/terminal.js"

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

/** How one entry treats its own failures (the full CLI: a command line @effect/cli rejected). */
export interface Options {
  /** Writes what the failure needs beyond its rendering and returns true, or false to render it. */
  readonly reported?: (failure: unknown) => boolean
  /** The exit code of a failure other than the default 1. */
  readonly exitCode?: (failure: unknown) => number | undefined
}

/** Runs `program` as this process: signals remembered, its failure rendered, then exit with its code. */
export const runMain = <E>(program: Effect.Effect<void, E>, options: Options = {}): void => {
  Signals.watch()
  // A reader that went away (`workflow-live reset | head -1`: EPIPE) or a full disk under a redirect
  // must not stop a command half done (a swap without its deferred work, a database created and not
  // migrated): what cannot be written is dropped, and the exit code still says how the command ended
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {})
  const main = Console.consoleWith((console) =>
    program.pipe(
      Effect.withConsole(plainConsole(console)),
      Effect.tapErrorCause((cause) => {
        // interruptions are the lane's to report
        if (Cause.isInterruptedOnly(cause)) return Effect.void
        const failure = Cause.failureOption(cause)
        if (failure._tag === "Some" && options.reported?.(failure.value) === true) return Effect.void
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
    return (failure._tag === "Some" ? options.exitCode?.(failure.value) : undefined) ?? 1
  }
  NodeRuntime.runMain(main, {
    disableErrorReporting: true,
    teardown: (exit, onExit) => onExit(exitCode(exit))
  })
}
