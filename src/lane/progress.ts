/**
 * What the lane is doing while nothing else is printed: before a slow phase ("resetting …"), while Vitest
 * starts and collects its files. On a terminal of its own (stdout a TTY, the lane printing there) a phase's
 * progress is one updating line that the phase's own line replaces; everywhere else, and whenever Vitest
 * writes to the terminal too, plain lines (no ANSI), so logs stay line-based.
 */
import type { TestSpecification } from "vitest/node"
import type * as LaneReport from "../LaneReport.js"

/** The mark progress lines start with. */
export const mark = "…"

/** What a slow phase does, shown before it starts; `undefined` for phases too quick to announce. */
export const phaseText = (name: LaneReport.PhaseName, database: string | undefined): string | undefined => {
  switch (name) {
    case "preflight":
      return "preflight: checking the environment, the external APIs and the database"
    case "reset":
      return `resetting ${database ?? "the workflow database"}`
    default:
      return undefined
  }
}

// an updating line is on stdout and not yet ended: the next line overwrites it
let pending = false

/** Erases an updating progress line, if one is showing, so the next line starts clean. */
export const settle = (): void => {
  if (!pending) return
  pending = false
  process.stdout.write("\r\u001b[2K")
}

/** `text` as a plain progress line. */
export const line = (text: string): string => `  ${mark} ${text}`

/** Shows `text` as the updating progress line (stdout is a TTY the lane prints to), dimmed when `colour`. */
export const update = (text: string, colour: boolean): void => {
  settle()
  process.stdout.write(colour ? `  \u001b[2m${mark} ${text}\u001b[0m` : line(text))
  pending = true
}

/** Whether progress may use an updating line: the lane prints to stdout itself, and stdout is a TTY. */
export const canUpdate = (printsElsewhere: boolean): boolean => !printsElsewhere && process.stdout.isTTY === true

/** A Vitest reporter that says how many test files Vitest is collecting, once per run. */
export const reporter = (print: (line: string) => void): { onTestRunStart: (specs: ReadonlyArray<TestSpecification>) => void } => ({
  onTestRunStart: (specs) => print(line(`collecting ${specs.length} test file(s)`))
})
