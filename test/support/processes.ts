/**
 * Subprocesses the way a terminal runs them, for the interrupt tests: a command in its own process group
 * (a foreground job), its output collected, a snapshot of every process it started, and checks that they
 * are all gone afterwards.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { connect } from "node:net"
import { constants } from "node:os"

/** A running command. */
export interface Job {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readonly output: () => string
}

/** Starts `command` as a foreground job would run (its own process group), from the project root. */
export const start = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Job => {
  const child = spawn(command, [...args], { detached: true, env, stdio: ["ignore", "pipe", "pipe"] })
  let output = ""
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()))
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()))
  // a shell reports death by a signal as 128 + its number (SIGINT: 130)
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? (signal === null ? null : 128 + constants.signals[signal])))
  )
  return { child, exited, output: () => output }
}

/** Polls `predicate` every 100 ms until it holds, failing after `ms`. */
export const waitFor = async (what: string, predicate: () => boolean | Promise<boolean>, ms: number): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Waits until `file` exists (the probe test's signal that it holds its fixtures). */
export const waitForFile = (job: Job, file: string, ms = 120_000): Promise<void> =>
  waitFor(`${file} (output so far:\n${job.output()})`, () => existsSync(file), ms)

/** Every live process below `pid` (children, grandchildren, ...), with its command line. */
export const descendants = (pid: number): Array<{ pid: number; command: string }> => {
  const table = execFileSync("ps", ["-e", "-o", "pid=,ppid=,stat=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .filter((m) => !m[3]!.startsWith("Z"))
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), command: m[4]! }))
  const found: Array<{ pid: number; command: string }> = []
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const p of table.filter((row) => row.ppid === parent)) {
      found.push({ pid: p.pid, command: p.command })
      queue.push(p.pid)
    }
  }
  return found
}

/** Whether `pid` is a live (not zombie) process. */
export const alive = (pid: number): boolean => {
  try {
    const stat = execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim()
    return stat !== "" && !stat.startsWith("Z")
  } catch {
    return false
  }
}

/** Whether anything accepts connections on 127.0.0.1:`port`. */
export const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })
