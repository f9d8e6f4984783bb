/**
 * The lane's one report value. The terminal summary, report.json, junit.xml, summary.md and
 * $GITHUB_STEP_SUMMARY are all rendered from one {@link Report}, so they cannot disagree.
 *
 * Adding a section (a cost ledger, kept rows, ...) is one field on {@link Report} and one entry in
 * {@link sections}: every view renders the sections in that list, and report.json carries every field.
 */
import { Effect } from "effect"
import { appendFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import type * as CostLedger from "./CostLedger.js"
import * as ExternalCalls from "./ExternalCalls.js"
import * as KeptReport from "./internal/keptReport.js"
import { formatMs, painter } from "./internal/terminal.js"

/** The phases of a lane, in order. `Lane.prepare` runs the first five, `Lane.finish` the rest. */
export const phaseNames = [
  "start",
  "load",
  "run id",
  "guard",
  "preflight",
  "reset",
  "protect",
  "tests",
  "leak check",
  "sweep",
  "exit",
  "report"
] as const

/** One of the lane's phases. */
export type PhaseName = typeof phaseNames[number]

/** `skip`: the phase ran and decided not to act (preflight under the skip policy, a sweep not needed). */
export type PhaseStatus = "pass" | "fail" | "skip"

/** One phase as it happened. */
export interface Phase {
  readonly name: PhaseName
  readonly status: PhaseStatus
  readonly ms: number
  /** One line: what the phase found or did, or why it failed. */
  readonly detail: string
}

/**
 * A test's verdict. `error`: it never ran because its file failed to load or its suite's setup failed
 * (a layer that cannot be built); `skipped`: `.skip`, `.todo`, `ctx.skip()` or the lane's skip policy.
 */
export type TestState = "passed" | "failed" | "error" | "skipped"

/** One test of the run. */
export interface TestCase {
  /** The test file, relative to the project root. */
  readonly file: string
  /** Describe blocks and test name, joined by ` > `. */
  readonly name: string
  readonly state: TestState
  readonly durationMs: number
  /** Why it failed, errored or was skipped (first line). */
  readonly message: string | undefined
  /** HTTP requests the test sent, by origin. */
  readonly externalCalls: Readonly<Record<string, number>>
}

/** A failure outside any single test: a file that did not load, a suite hook that threw, an unhandled error. */
export interface RunError {
  /** `file`, `file > suite`, or `unhandled`. */
  readonly where: string
  readonly message: string
}

/** What Vitest reported, judged by the lane's verdict model. */
export interface Tests {
  readonly passed: number
  readonly failed: number
  /** Tests that did not run because their setup failed, plus the run errors (as junit.xml counts them). */
  readonly errors: number
  readonly skipped: number
  /** Tests a filter (`-t`) left out: not counted as skipped. */
  readonly notSelected: number
  readonly cases: ReadonlyArray<TestCase>
  /** Files that failed to load, suite hooks that failed, unhandled errors. */
  readonly runErrors: ReadonlyArray<RunError>
  /** Tests still running when the lane was interrupted. */
  readonly running: ReadonlyArray<string>
  readonly externalCalls: Readonly<Record<string, number>>
}

/** A run in which no test ran (no file matched the filters). */
export const noTests: Tests = {
  passed: 0,
  failed: 0,
  errors: 0,
  skipped: 0,
  notSelected: 0,
  cases: [],
  runErrors: [],
  running: [],
  externalCalls: {}
}

/** Rows per table. */
export type Rows = Readonly<Record<string, number>>

/** Rows an earlier run left, removed by this run's reset. */
export interface Earlier {
  readonly runId: string
  readonly rows: Rows
}

/** The rows one failed test left in place (`WORKFLOW_LIVE_KEEP=failed`), with a `psql` command that shows them. */
export type KeptTest = KeptReport.KeptTest

/** How the lane ended. */
export type Outcome = "passed" | "failed" | "skipped" | "interrupted"

/** Where the lane pointed (password masked). */
export interface Target {
  readonly dsn: string
  readonly host: string
  readonly port: number
  readonly database: string
}

/** The files a report is written to. */
export interface Files {
  readonly report: string
  readonly junit: string
  readonly summary: string
}

/** The lane's report: one value, five views. */
export interface Report {
  readonly runId: string | null
  readonly target: Target | null
  readonly startedAt: string
  readonly durationMs: number
  readonly outcome: Outcome
  readonly exitCode: number
  /** One line: why the lane failed, was skipped or interrupted; `null` when it passed. */
  readonly reason: string | null
  readonly phases: ReadonlyArray<Phase>
  readonly tests: Tests | null
  /** Rows the run wrote that no test removed (the leak check); `null` when it did not run. */
  readonly leaks: Rows | null
  /** Rows the sweep removed; `null` when it did not run. */
  readonly swept: Rows | null
  /** Rows of failed tests kept in place (`WORKFLOW_LIVE_KEEP=failed`); `null` when keeping was off or nothing failed. */
  readonly kept: ReadonlyArray<KeptTest> | null
  /** Rows of an earlier run the reset removed; `null` when there were none. */
  readonly earlier: Earlier | null
  /** How the tests' HTTP calls were answered, and per test how many were live, recorded or replayed. */
  readonly http: ExternalCalls.HttpSection | null
  /** Every external call with its tokens and estimated cost, per test and in total, and the budget. */
  readonly cost: CostLedger.Summary | null
  readonly files: Files
}

/** A part of the report shown in the terminal summary and in summary.md (report.json has every field). */
export interface Section {
  readonly title: string
  /** Lines for the terminal summary (empty: nothing to show). */
  readonly terminal: (report: Report) => ReadonlyArray<string>
  /** Markdown lines for summary.md and $GITHUB_STEP_SUMMARY (empty: nothing to show). */
  readonly markdown: (report: Report) => ReadonlyArray<string>
}

/** `customers 3, tenders 2` */
export const formatRows = (rows: Rows): string =>
  Object.entries(rows).filter(([, n]) => n > 0).map(([table, n]) => `${table} ${n}`).join(", ")

/** Total rows. */
export const totalRows = (rows: Rows | null): number =>
  rows === null ? 0 : Object.values(rows).reduce((a, b) => a + b, 0)

/** Total external calls. */
export const totalCalls = (tests: Tests | null): number =>
  tests === null ? 0 : Object.values(tests.externalCalls).reduce((a, b) => a + b, 0)

/**
 * `3 passed, 1 failed, 1 error, 2 skipped` (+ `, 4 not selected` when a filter left tests out). Errors are
 * the tests that did not run because their setup failed and the file, suite or unhandled errors, as
 * junit.xml counts them (each an error case).
 */
export const formatCounts = (tests: Tests): string =>
  `${tests.passed} passed, ${tests.failed} failed, ${tests.errors} error(s), ${tests.skipped} skipped` +
  (tests.notSelected === 0 ? "" : `, ${tests.notSelected} not selected`)

const notRun = (tests: Tests): number => tests.cases.filter((c) => c.state === "error").length

/**
 * Why a completed run fails; empty when it passed. A failed test, a test that did not run because its file
 * or suite setup failed, a file, suite or unhandled error, or (unless the lane was skipped) no test at all.
 */
export const verdictProblems = (tests: Tests, skipped: boolean): ReadonlyArray<string> => [
  ...(tests.failed > 0 ? [`${tests.failed} test(s) failed`] : []),
  ...(notRun(tests) > 0 ? [`${notRun(tests)} test(s) did not run because their file or suite setup failed`] : []),
  ...(tests.runErrors.length > 0 ? [`${tests.runErrors.length} file, suite or unhandled error(s)`] : []),
  ...(!skipped && tests.passed + tests.failed + tests.errors === 0 && tests.runErrors.length === 0
    ? ["the selection ran no test: check the filter (-t, file names) and test/workflow_live"]
    : [])
]

/** The tests phase's line: counts and external calls. */
export const testsLine = (tests: Tests): string => `${formatCounts(tests)}, ${totalCalls(tests)} external call(s)`

const problemLines = (tests: Tests | null): ReadonlyArray<string> =>
  tests === null
    ? []
    : [
      ...tests.runErrors.map((e) => `${e.where}: ${e.message}`),
      ...tests.cases.filter((c) => c.state === "failed" || c.state === "error").map((c) =>
        `${c.file} > ${c.name}: ${c.state === "error" ? "not run: " : ""}${c.message ?? c.state}`
      )
    ]

const escapeCell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

/** The sections every view shows, in order. Add a section here. */
export const sections: ReadonlyArray<Section> = [
  {
    title: "Problems",
    terminal: (report) => problemLines(report.tests).slice(0, 20).map((line) => `    ✗ ${line}`),
    markdown: (report) => {
      const lines = problemLines(report.tests)
      return lines.length === 0 ? [] : ["**Problems**", "", ...lines.slice(0, 50).map((line) => `- ${escapeCell(line)}`), ""]
    }
  },
  {
    title: "Leaks",
    terminal: (report) =>
      totalRows(report.leaks) === 0 ? [] : [`  left behind by this run: ${formatRows(report.leaks!)}`],
    markdown: (report) =>
      totalRows(report.leaks) === 0 ? [] : [`**Left behind by this run:** ${formatRows(report.leaks!)}`, ""]
  },
  {
    title: "Swept",
    terminal: (report) => totalRows(report.swept) === 0 ? [] : [`  swept: ${formatRows(report.swept!)}`],
    markdown: (report) => totalRows(report.swept) === 0 ? [] : [`**Swept:** ${formatRows(report.swept!)}`, ""]
  },
  {
    title: "Kept",
    terminal: (report) => KeptReport.renderTerminal(report.kept),
    markdown: (report) => KeptReport.renderMarkdown(report.kept)
  },
  {
    title: "Earlier run",
    terminal: (report) =>
      report.earlier === null
        ? []
        : [`  removed at reset, left by run ${report.earlier.runId}: ${formatRows(report.earlier.rows)}`],
    markdown: (report) =>
      report.earlier === null
        ? []
        : [`**Removed at reset, left by run \`${report.earlier.runId}\`:** ${formatRows(report.earlier.rows)}`, ""]
  },
  {
    title: "External calls",
    terminal: (report) =>
      report.http === null || report.cost === null ? [] : ExternalCalls.renderTerminal({ http: report.http, cost: report.cost }),
    markdown: (report) =>
      report.http === null || report.cost === null ? [] : ExternalCalls.renderMarkdown({ http: report.http, cost: report.cost })
  }
]

/** The phase line as printed while the lane runs. */
export const renderPhase = (phase: Phase, colour: boolean): string => {
  const paint = painter(colour)
  const mark = phase.status === "pass" ? paint("32", "✓") : phase.status === "skip" ? paint("33", "↷") : paint("31", "✗")
  return `  ${mark} ${phase.name.padEnd(10)} ${formatMs(phase.ms).padStart(9)}  ${phase.detail}`
}

const headline = (report: Report): string => {
  const t = report.tests
  return [
    t === null ? "no tests ran" : formatCounts(t),
    `${totalCalls(t)} external call(s)`,
    `run ${report.runId ?? "?"}`,
    formatMs(report.durationMs)
  ].join(", ")
}

/** The closing block of the terminal output. */
export const renderTerminal = (report: Report, colour: boolean): string => {
  const paint = painter(colour)
  const code = report.outcome === "passed" ? "32" : report.outcome === "skipped" ? "33" : "31"
  return [
    "",
    `  ${paint(code, report.outcome.toUpperCase())}  ${headline(report)}`,
    ...(report.reason === null ? [] : [`  ${report.reason}`]),
    ...sections.flatMap((section) => section.terminal(report)),
    `  report: ${report.files.report}`,
    `  junit:  ${report.files.junit}`
  ].join("\n")
}

/** summary.md (and what goes to $GITHUB_STEP_SUMMARY). */
export const renderMarkdown = (report: Report): string =>
  [
    `### workflow-live: ${report.outcome}`,
    "",
    `Run \`${report.runId ?? "?"}\` on \`${report.target?.database ?? "?"}\`, ${formatMs(report.durationMs)}: ` +
    `${report.tests === null ? "no tests ran" : formatCounts(report.tests)}, ${totalCalls(report.tests)} external call(s).`,
    ...(report.reason === null ? [] : ["", `**${report.outcome === "skipped" ? "Skipped" : "Why"}:** ${escapeCell(report.reason)}`]),
    "",
    "| phase | status | time | detail |",
    "|---|---|---|---|",
    ...report.phases.map((p) => `| ${p.name} | ${p.status} | ${formatMs(p.ms)} | ${escapeCell(p.detail)} |`),
    "",
    ...sections.flatMap((section) => section.markdown(report))
  ].join("\n")

const xml = (text: string): string =>
  text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, "")
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const seconds = (ms: number): string => (ms / 1000).toFixed(3)

interface JunitCase {
  readonly classname: string
  readonly name: string
  readonly ms: number
  readonly outcome: "pass" | "failure" | "error" | "skipped"
  readonly message: string | undefined
}

const junitCase = (c: JunitCase): string => {
  const open = `    <testcase classname="${xml(c.classname)}" name="${xml(c.name)}" time="${seconds(c.ms)}"`
  if (c.outcome === "pass") return `${open}/>`
  const element = c.outcome === "skipped" ? "skipped" : c.outcome
  const message = xml(c.message ?? "")
  return `${open}>\n      <${element} message="${message}">${c.outcome === "skipped" ? "" : message}</${element}>\n    </testcase>`
}

const junitSuite = (name: string, cases: ReadonlyArray<JunitCase>): string => {
  const count = (o: JunitCase["outcome"]) => cases.filter((c) => c.outcome === o).length
  const time = cases.reduce((a, c) => a + c.ms, 0)
  return [
    `  <testsuite name="${xml(name)}" tests="${cases.length}" failures="${count("failure")}" errors="${count("error")}" ` +
    `skipped="${count("skipped")}" time="${seconds(time)}">`,
    ...cases.map(junitCase),
    "  </testsuite>"
  ].join("\n")
}

const laneCases = (report: Report): ReadonlyArray<JunitCase> =>
  report.phases.map((p) => ({
    classname: "workflow-live lane",
    name: p.name,
    ms: p.ms,
    outcome: p.status === "pass" ? "pass" : p.status === "skip" ? "skipped" : "failure",
    message: p.detail
  }))

const fileCases = (tests: Tests): Map<string, Array<JunitCase>> => {
  const byFile = new Map<string, Array<JunitCase>>()
  const add = (file: string, c: JunitCase) => byFile.set(file, [...(byFile.get(file) ?? []), c])
  for (const c of tests.cases) {
    add(c.file, {
      classname: c.file,
      name: c.name,
      ms: c.durationMs,
      outcome: c.state === "passed" ? "pass" : c.state === "failed" ? "failure" : c.state === "error" ? "error" : "skipped",
      message: c.message
    })
  }
  for (const e of tests.runErrors) {
    const file = e.where.split(" > ")[0] ?? e.where
    add(file, { classname: file, name: `${e.where} (setup)`, ms: 0, outcome: "error", message: e.message })
  }
  return byFile
}

/** junit.xml: the lane's phases as one suite, then one suite per test file. */
export const renderJunit = (report: Report): string => {
  const suites = [
    junitSuite("workflow-live lane", laneCases(report)),
    ...[...(report.tests === null ? new Map() : fileCases(report.tests))].map(([file, cases]) => junitSuite(file, cases))
  ]
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="workflow-live" outcome="${report.outcome}" time="${seconds(report.durationMs)}">`,
    ...suites,
    `</testsuites>`,
    ""
  ].join("\n")
}

const messageOf = (e: unknown): string => e instanceof Error ? e.message : String(e)

/**
 * Writes report.json, junit.xml and summary.md, each tried whatever happened to the others (an earlier
 * run's file is removed first, so none can stay beside this run's), and removes an earlier run's
 * preflight.json when this run's preflight did not run. Returns what could not be written, in words.
 */
const writeFiles = (report: Report): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const files: ReadonlyArray<readonly [string, () => string]> = [
    [report.files.report, () => `${JSON.stringify(report, null, 2)}\n`],
    [report.files.junit, () => renderJunit(report)],
    [report.files.summary, () => renderMarkdown(report)]
  ]
  for (const [file, render] of files) {
    try {
      rmSync(file, { force: true })
    } catch {
      // a directory in its place: the write below says so
    }
    try {
      writeFileSync(file, render())
    } catch (e) {
      problems.push(`could not write ${file}: ${messageOf(e)}`)
    }
  }
  // beside them, preflight.json is this run's only when its preflight ran: an earlier run's file (one that
  // passed, say) would read as this run's, and CI uploads the directory
  if (!report.phases.some((p) => p.name === "preflight")) {
    try {
      rmSync(join(dirname(report.files.report), "preflight.json"), { force: true })
    } catch (e) {
      problems.push(`could not remove an earlier run's preflight.json: ${messageOf(e)}`)
    }
  }
  return problems
}

/** The report as it stands once writing it failed: failed in phase `report` (an interruption stays one). */
const unwritten = (report: Report, problems: ReadonlyArray<string>): Report => {
  const detail = problems.join("; ")
  const interrupted = report.outcome === "interrupted"
  return {
    ...report,
    outcome: interrupted ? "interrupted" : "failed",
    exitCode: interrupted ? report.exitCode : 1,
    reason: interrupted || report.outcome === "failed" ? report.reason : `failed in phase report: ${detail}`,
    phases: report.phases.map((p) => p.name === "report" ? { ...p, status: "fail" as const, detail } : p)
  }
}

/**
 * Writes report.json, junit.xml and summary.md, then appends summary.md to `$GITHUB_STEP_SUMMARY` when it
 * is set, and returns the report as written. When one of them cannot be written the lane has failed in its
 * `report` phase: the files that can be written are rewritten to say so, and the step summary gets that
 * version, so no file the run leaves reads as passed while it exits 1.
 */
export const write = (report: Report): Effect.Effect<Report> =>
  Effect.sync(() => {
    const problems = writeFiles(report)
    let final = problems.length === 0 ? report : unwritten(report, problems)
    if (final !== report) writeFiles(final)
    const stepSummary = process.env.GITHUB_STEP_SUMMARY
    if (stepSummary !== undefined && stepSummary !== "") {
      try {
        appendFileSync(stepSummary, `${renderMarkdown(final)}\n`)
      } catch (e) {
        final = unwritten(final, [...problems, `could not append to $GITHUB_STEP_SUMMARY (${stepSummary}): ${messageOf(e)}`])
        writeFiles(final)
      }
    }
    return final
  })
