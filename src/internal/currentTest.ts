/**
 * The Vitest test that is running in this worker, read from the global `expect` state Vitest keeps
 * per try. Read without importing `vitest`: importing it outside a Vitest worker throws, and the
 * fixtures are also used from the CLI (the sweep) and from benchmarks.
 */
import * as path from "node:path"

interface ExpectState {
  readonly currentTestName?: string | undefined
  readonly testPath?: string | undefined
}

const globalExpect = Symbol.for("expect-global")
const matchersObject = Symbol.for("matchers-object")

const expectState = (): ExpectState | undefined => {
  const g = globalThis as Record<symbol, unknown>
  const expect = g[globalExpect]
  const states = g[matchersObject]
  if (expect === undefined || !(states instanceof WeakMap)) return undefined
  return states.get(expect as object) as ExpectState | undefined
}

interface WorkerState {
  /** The task running: a test from before its `beforeEach` hooks to after its `afterEach` hooks, else its suite or file. */
  readonly current?: { readonly type?: string } | undefined
  readonly filepath?: string | undefined
}

const workerState = (): WorkerState | undefined =>
  (globalThis as Record<string, unknown>)["__vitest_worker__"] as WorkerState | undefined

/** The running test as `<file relative to cwd> > <describe> > <test>`, or `undefined` outside a test. */
export const currentTest = (): string | undefined => {
  // the expect state keeps the last test's name after it ended (in the next suite's hooks, say): only a
  // test the worker is running counts
  const worker = workerState()
  if (worker !== undefined && worker.current?.type !== "test") return undefined
  const state = expectState()
  const name = state?.currentTestName
  if (name === undefined || name === "") return undefined
  const file = state?.testPath === undefined ? "" : path.relative(process.cwd(), state.testPath)
  return file === "" ? name : `${file} > ${name}`
}

/**
 * The running test, else `<file> > outside-a-test` in a test file (a suite's layer, a hook), else
 * `outside-a-test`: keys made outside a test differ between files, which may run side by side.
 */
export const currentTestOrFile = (): string => {
  const test = currentTest()
  if (test !== undefined) return test
  const testPath = workerState()?.filepath ?? expectState()?.testPath
  return testPath === undefined || testPath === "" ? "outside-a-test" : `${path.relative(process.cwd(), testPath)} > outside-a-test`
}

/**
 * A value the lane provided to this Vitest worker (`project.provide` / `inject`), read without importing
 * `vitest` (which throws outside a worker). `undefined` outside Vitest or when not provided.
 */
export const provided = (key: string): unknown => {
  const state = (globalThis as Record<string, unknown>)["__vitest_worker__"] as
    | { readonly providedContext?: Record<string, unknown> }
    | undefined
  return state?.providedContext?.[key]
}
