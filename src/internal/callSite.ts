/**
 * Where a test called into the library: captured when an assertion is created (the test's generator is
 * still on the stack then) and put on the error it fails with, so Vitest's first frame, code frame and
 * editor link are the test's own line instead of the library's and Effect's fiber internals.
 */
import { fileURLToPath } from "node:url"

// this directory's parent: src/ when run from source, dist/ when bundled
const libraryDir = fileURLToPath(new URL("..", import.meta.url))
const libraryUrl = new URL("..", import.meta.url).href

const isLibrary = (frame: string): boolean =>
  frame.includes(libraryDir) || frame.includes(libraryUrl) || /node_modules|node:internal|\(native\)|\(<anonymous>\)|Generator\.next/.test(frame)

/** The stack frames of the caller outside this library (the first is the test's line); empty if none. */
export const capture = (): ReadonlyArray<string> => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 20
  const stack = new Error().stack ?? ""
  Error.stackTraceLimit = limit
  const frames = stack.split("\n").filter((line) => /^\s+at /.test(line))
  const first = frames.findIndex((frame) => !isLibrary(frame))
  // the test's own frames only: what follows them is the runner
  return first === -1 ? [] : frames.slice(first).filter((frame) => !isLibrary(frame))
}

/** Makes `frames` the error's stack (under its own `name: message` line); keeps the stack when none. */
export const attach = <E extends Error>(error: E, frames: ReadonlyArray<string>): E => {
  if (frames.length === 0) return error
  Object.defineProperty(error, "stack", {
    value: `${error.name}: ${error.message}\n${frames.join("\n")}`,
    writable: true,
    configurable: true,
    enumerable: false
  })
  return error
}
