/**
 * Starts the LLM and tender source stand-ins on 127.0.0.1 for a local or CI lane run.
 *
 *   node --import tsx examples/tender-alert/stand-ins.ts                 # prints `export ...` lines, runs until Ctrl-C
 *   node --import tsx examples/tender-alert/stand-ins.ts -- <command>    # runs <command> with the variables set,
 *                                                                        # exits with its code
 *
 * Ports: WL_STAND_IN_TENDERS_PORT / WL_STAND_IN_LLM_PORT (default: free ones).
 */
import { spawn } from "node:child_process"
import { Effect, Exit, Scope } from "effect"
import * as StandIns from "../../src/StandIns.js"

const separator = process.argv.indexOf("--")
const command = separator === -1 ? [] : process.argv.slice(separator + 1)

const scope = Effect.runSync(Scope.make())
const exit = await Effect.runPromiseExit(
  Scope.extend(
    StandIns.make({
      tendersPort: Number(process.env.WL_STAND_IN_TENDERS_PORT ?? 0),
      llmPort: Number(process.env.WL_STAND_IN_LLM_PORT ?? 0),
      llmApiKey: process.env.TENDERBOT_LLM_API_KEY ?? undefined
    }),
    scope
  )
)
if (Exit.isFailure(exit)) {
  process.stderr.write(`${Exit.isFailure(exit) ? String(exit.cause) : ""}\n`)
  process.exit(1)
}
const standIns = exit.value
const stop = async (code: number) => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(code)
}

if (command.length === 0) {
  for (const [name, value] of Object.entries(standIns.env)) process.stdout.write(`export ${name}='${value}'\n`)
  process.stderr.write("stand-ins running; Ctrl-C to stop\n")
  process.on("SIGINT", () => void stop(0))
  process.on("SIGTERM", () => void stop(0))
} else {
  const child = spawn(command[0]!, command.slice(1), { stdio: "inherit", env: { ...process.env, ...standIns.env } })
  // forward signals so the lane can sweep before it exits, then stop the servers
  process.on("SIGINT", () => child.kill("SIGINT"))
  process.on("SIGTERM", () => child.kill("SIGTERM"))
  child.on("exit", (code, signal) => void stop(code ?? (signal === null ? 1 : 128 + 2)))
}
