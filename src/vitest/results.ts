/**
 * The lane's verdict model, read from Vitest's own results. A test is `passed` or `failed` as Vitest says;
 * a test that never ran because its file failed to load or its suite's setup failed (a layer that cannot
 * be built) is an `error`, not a skip; `skipped` is only what `.skip`, `.todo`, `ctx.skip()` or the lane's
 * skip policy marked; tests a `-t` filter left out are `notSelected`. Files that failed to load, suite
 * hooks that threw and unhandled errors are run errors.
 */
import { relative } from "node:path"
import type { SerializedError } from "vitest"
import type { TestCase, TestModule, TestSuite } from "vitest/node"
import type * as LaneReport from "../LaneReport.js"

interface RunnerTask {
  readonly name: string
  readonly suite?: RunnerTask | undefined
}

// Vitest matches `-t` against the task's full name: file, describe blocks and test, joined by spaces
const fullTaskName = (task: RunnerTask): string => `${task.suite ? `${fullTaskName(task.suite)} ` : ""}${task.name}`

const selectedBy = (test: TestCase, pattern: RegExp | undefined): boolean => {
  const task = (test as unknown as { task?: RunnerTask }).task
  return pattern === undefined || task === undefined || pattern.test(fullTaskName(task))
}

// the first line, and the next one when the first only announces it (`Transform failed with 1 error:`
// is followed by the file, line and what is wrong)
const firstLine = (text: string | undefined): string | undefined => {
  const lines = text?.split("\n").map((line) => line.trim()).filter((line) => line !== "") ?? []
  if (lines.length === 0) return undefined
  return lines[0]!.endsWith(":") && lines[1] !== undefined ? `${lines[0]} ${lines[1]}` : lines[0]
}

const errorText = (error: SerializedError | undefined): string =>
  firstLine(error?.message) ?? firstLine(error?.stack) ?? "failed"

/** The nearest enclosing suite or module that reported an error (its setup failed), if any. */
const failedAncestor = (test: TestCase): TestSuite | TestModule | undefined => {
  for (let parent: TestSuite | TestModule = test.parent; ; parent = parent.parent) {
    if (parent.errors().length > 0) return parent
    if (parent.type === "module") return undefined
  }
}

const callsOf = (test: TestCase): Readonly<Record<string, number>> => {
  const calls = (test.meta() as Record<string, unknown>)["externalCalls"]
  return typeof calls === "object" && calls !== null ? calls as Record<string, number> : {}
}

const caseOf = (test: TestCase, file: string): LaneReport.TestCase => {
  const result = test.result()
  const base = { file, name: test.fullName, durationMs: test.diagnostic()?.duration ?? 0, externalCalls: callsOf(test) }
  switch (result.state) {
    case "passed":
      return { ...base, state: "passed", message: undefined }
    case "failed":
      return { ...base, state: "failed", message: errorText(result.errors[0]) }
    default: {
      const broken = failedAncestor(test)
      if (broken !== undefined) {
        const where = broken.type === "module" ? "its file" : `suite "${broken.fullName}"`
        return { ...base, state: "error", message: `${where} failed in setup: ${errorText(broken.errors()[0])}` }
      }
      const note = result.state === "skipped" ? result.note : undefined
      return { ...base, state: "skipped", message: note ?? (test.options.mode === "todo" ? "todo" : undefined) }
    }
  }
}

const suiteErrors = (module: TestModule, file: string): ReadonlyArray<LaneReport.RunError> => [
  ...module.errors().map((e) => ({ where: file, message: errorText(e) })),
  ...[...module.children.allSuites()].flatMap((suite) =>
    suite.errors().map((e) => ({ where: `${file} > ${suite.fullName}`, message: errorText(e) }))
  )
]

const add = (into: Record<string, number>, calls: Readonly<Record<string, number>>): void => {
  for (const [origin, n] of Object.entries(calls)) into[origin] = (into[origin] ?? 0) + n
}

/** Options of {@link fromModules}. */
export interface Options {
  /** The project root: files are reported relative to it. */
  readonly root: string
  /** The `-t` pattern in force, to tell "not selected" from "skipped". */
  readonly pattern?: RegExp | undefined
  /** Tests that had started and not finished (an interrupted run). */
  readonly running?: ReadonlyArray<string> | undefined
}

/** The lane's view of a Vitest run. */
export const fromModules = (
  modules: ReadonlyArray<TestModule>,
  unhandled: ReadonlyArray<SerializedError>,
  options: Options
): LaneReport.Tests => {
  const cases: Array<LaneReport.TestCase> = []
  const runErrors: Array<LaneReport.RunError> = []
  const externalCalls: Record<string, number> = {}
  let notSelected = 0
  for (const module of modules) {
    const file = relative(options.root, module.moduleId)
    runErrors.push(...suiteErrors(module, file))
    for (const test of module.children.allTests()) {
      const state = test.result().state
      if (state === "pending") continue
      if (state === "skipped" && test.options.mode !== "run" && !selectedBy(test, options.pattern)) {
        notSelected++
        continue
      }
      const entry = caseOf(test, file)
      add(externalCalls, entry.externalCalls)
      cases.push(entry)
    }
  }
  runErrors.push(...unhandled.map((e) => ({ where: "unhandled", message: errorText(e) })))
  const count = (state: LaneReport.TestState) => cases.filter((c) => c.state === state).length
  return {
    passed: count("passed"),
    failed: count("failed"),
    // as junit.xml and every other view count them: the tests not run, and the file, suite and unhandled errors
    errors: count("error") + runErrors.length,
    skipped: count("skipped"),
    notSelected,
    cases,
    runErrors,
    running: options.running ?? [],
    externalCalls
  }
}
