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

/**
 * The call site, as an unformatted stack: V8 records the frames now (cheap) and formats them only when
 * `.stack` is read, which {@link attach} does only for a failure.
 */
export const capture = (): Error => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 20
  const site = new Error()
  Error.stackTraceLimit = limit
  return site
}

/** The caller's frames outside this library (the first is the test's line); empty if none. */
export const frames = (site: Error): ReadonlyArray<string> =>
  (site.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line) && !isLibrary(line))

/** Makes the call site's frames the error's stack (under its own `name: message` line); keeps the stack when none. */
export const attach = <E extends Error>(error: E, site: Error): E => {
  const own = frames(site)
  if (own.length === 0) return error
  Object.defineProperty(error, "stack", {
    value: `${error.name}: ${error.message}\n${own.join("\n")}`,
    writable: true,
    configurable: true,
    enumerable: false
  })
  return error
}
