/**
 * The one way tests start the `workflow-live` CLI (or any command) as a real subprocess: a real
 * environment, output captured, never throwing on a non-zero exit. `start` runs it in the background in
 * its own process group, as a terminal's foreground job, so a test can send it signals.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

/** The repository root: every command runs there. */
export const root = fileURLToPath(new URL("../..", import.meta.url))

/** How a command ended. */
export interface Outcome {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** stdout and stderr, interleaved as they arrived. */
  readonly output: string
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Options for {@link run} and {@link start}. */
export interface Options {
  /** Set (string) or removed (undefined) on top of the caller's environment. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Start from this environment instead of the caller's. */
  readonly baseEnv?: NodeJS.ProcessEnv | undefined
  /** Kill (SIGKILL) after this long. Default 120 s. */
  readonly timeoutMs?: number | undefined
}

const environment = (options: Options): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...(options.baseEnv ?? process.env), NO_COLOR: "1" }
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  return env
}

/** A running command. */
export interface Running {
  readonly pid: number
  /** Output so far. */
  readonly output: () => string
  readonly exited: Promise<Outcome>
  /** Sends a signal to the command alone, or to its whole process group (like Ctrl-C in a terminal). */
  readonly kill: (signal: NodeJS.Signals, group?: boolean) => void
}

/** Starts `command` in the background, in its own process group. */
export const start = (command: string, args: ReadonlyArray<string>, options: Options = {}): Running => {
  const started = performance.now()
  const child = spawn(command, [...args], {
    cwd: root,
    detached: true,
    env: environment(options),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => ((output += d.toString()), (stdout += d.toString())))
  child.stderr.on("data", (d: Buffer) => ((output += d.toString()), (stderr += d.toString())))
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000)
  const exited = new Promise<Outcome>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, output, stdout, stderr, ms: performance.now() - started })
    })
  )
  return {
    pid: child.pid!,
    output: () => output,
    exited,
    kill: (signal, group = false) => {
      try {
        if (group) process.kill(-child.pid!, signal)
        else child.kill(signal)
      } catch {
        // already gone
      }
    }
  }
}

/** Runs `command` to its end. */
export const run = (command: string, args: ReadonlyArray<string>, options: Options = {}): Promise<Outcome> =>
  start(command, args, options).exited

/** `node bin/workflow-live.js <args>`. */
export const workflowLive = (args: ReadonlyArray<string>, options: Options = {}): Promise<Outcome> =>
  run(process.execPath, ["bin/workflow-live.js", ...args], options)

/** `node bin/workflow-live.js <args>` in the background. */
export const startWorkflowLive = (args: ReadonlyArray<string>, options: Options = {}): Running =>
  start(process.execPath, ["bin/workflow-live.js", ...args], options)

/** Waits until `predicate` holds, polling every 100 ms; throws after `ms`. */
export const waitFor = async (predicate: () => boolean, ms: number, what = "a condition"): Promise<void> => {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Waits until a file exists (a probe test writes it when it holds its fixtures). */
export const waitForFile = (path: string, ms: number): Promise<void> => waitFor(() => existsSync(path), ms, path)

/** A line of a stack trace: `    at fn (file:1:2)`. */
export const stackLine: RegExp = /^\s+at .+:\d+:\d+\)?$/m
