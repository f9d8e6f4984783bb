/**
 * `node --import tsx test/support/withTestServer.ts <step>... [-- args]`: decides the test server once
 * (test/support/testServer.ts), runs the steps against it in order, stops at the first failure, and
 * removes a throwaway server at the end, also on Ctrl-C. Steps:
 *   integration  the integration lane (`vitest run --project integration`)
 *   live         the workflow-live lane with local API stand-ins on the server's tenderbot_workflow_test
 *   replay       the workflow-live lane answered from the committed cassettes (no API variable, no network)
 * Further arguments (after an optional `--`) go to the last step: they are Vitest's.
 */
import { Effect, Exit, Redacted, Scope } from "effect"
import { spawn } from "node:child_process"
import { renderCause } from "../../src/internal/render.js"
import * as TestServer from "./testServer.js"

const steps: Record<string, (server: string, args: ReadonlyArray<string>) => { command: string; args: Array<string>; env: NodeJS.ProcessEnv }> = {
  integration: (_server, args) => ({
    command: "node_modules/.bin/vitest",
    args: ["run", "--project", "integration", ...args],
    env: {}
  }),
  live: (server, args) => ({
    command: process.execPath,
    args: ["bin/workflow-live.js", "run", "--stand-ins", ...(args.length === 0 ? [] : ["--", ...args])],
    env: { TENDERBOT_WORKFLOW_DB_DSN: `${server}/tenderbot_workflow_test` }
  }),
  // the committed cassettes still answer every call of the suite, with no API variable and no network
  replay: (server, args) => ({
    command: process.execPath,
    args: ["bin/workflow-live.js", "run", "--http=replay", ...(args.length === 0 ? [] : ["--", ...args])],
    env: {
      TENDERBOT_WORKFLOW_DB_DSN: `${server}/tenderbot_workflow_test`,
      TENDERBOT_LLM_BASE_URL: "",
      TENDERBOT_LLM_API_KEY: "",
      TENDERBOT_TENDERS_API_URL: ""
    }
  })
}

// the step names, then Vitest's arguments (`--` optional: mise appends a task's arguments without it)
const args = process.argv.slice(2)
const firstArg = args.findIndex((arg) => !(arg in steps))
const names = firstArg === -1 ? args : args.slice(0, firstArg)
const passthrough = firstArg === -1 ? [] : args.slice(args[firstArg] === "--" ? firstArg + 1 : firstArg)
if (names.length === 0) {
  process.stderr.write(`usage: withTestServer.ts ${Object.keys(steps).join("|")}... [--] [vitest args]\n`)
  process.exit(2)
}

// the first SIGINT/SIGTERM goes to the running step (a Ctrl-C may have reached it already: same process
// group); we wait for it to finish, then remove the server
let signal: NodeJS.Signals | undefined
let running: ReturnType<typeof spawn> | undefined
for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(s, () => {
    if (signal !== undefined) return
    signal = s
    running?.kill(s)
  })
}

const runStep = (name: string, server: string, args: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve) => {
    const step = steps[name]!(server, args)
    running = spawn(step.command, step.args, { stdio: "inherit", env: { ...process.env, [TestServer.variable]: server, ...step.env } })
    running.once("error", (error) => (process.stderr.write(`${name}: ${error.message}\n`), resolve(1)))
    running.once("exit", (code, sig) => resolve(code ?? (sig === "SIGINT" ? 130 : 1)))
  })

const scope = Effect.runSync(Scope.make())
const acquired = await Effect.runPromiseExit(TestServer.acquire().pipe(Scope.extend(scope)))
let code = 0
if (Exit.isFailure(acquired)) {
  process.stderr.write(`\n${renderCause(acquired.cause)}\n`)
  code = 1
} else {
  console.log(`Test server: ${acquired.value.description}`)
  for (const [i, name] of names.entries()) {
    if (signal !== undefined) break
    code = await runStep(name, Redacted.value(acquired.value.url), i === names.length - 1 ? passthrough : [])
    if (code !== 0) break
  }
  console.log(`Tests used: ${acquired.value.description}`)
}
await Effect.runPromise(Scope.close(scope, Exit.void))
process.exit(signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : signal === "SIGHUP" ? 129 : code)
