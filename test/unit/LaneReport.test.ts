// One report value, five views: the terminal, junit.xml and summary.md render the same phases, problems
// and rows; the verdict model fails what must fail.
import { describe, expect, it } from "vitest"
import { childrenFirst } from "../../src/internal/writtenRows.js"
import * as LaneReport from "../../src/LaneReport.js"

const tests: LaneReport.Tests = {
  passed: 1,
  failed: 1,
  errors: 2,
  skipped: 1,
  notSelected: 2,
  cases: [
    { file: "a.test.ts", name: "s > ok", state: "passed", durationMs: 12, message: undefined, externalCalls: { "http://x": 2 } },
    { file: "a.test.ts", name: "s > bad <one>", state: "failed", durationMs: 30, message: "expected 1 & 2", externalCalls: {} },
    { file: "b.test.ts", name: "t > never", state: "error", durationMs: 0, message: "suite \"t\" failed in setup: no layer", externalCalls: {} },
    { file: "b.test.ts", name: "t > later", state: "skipped", durationMs: 0, message: "todo", externalCalls: {} }
  ],
  runErrors: [{ where: "b.test.ts > t", message: "no layer" }],
  running: [],
  externalCalls: { "http://x": 2 }
}

const phase = (name: LaneReport.PhaseName, status: LaneReport.PhaseStatus, detail = "ok"): LaneReport.Phase =>
  ({ name, status, ms: 5, detail })

const report: LaneReport.Report = {
  runId: "r1",
  target: { dsn: "postgres://u:*****@h:5432/tenderbot_workflow_test", host: "h", port: 5432, database: "tenderbot_workflow_test" },
  startedAt: "2026-01-01T00:00:00.000Z",
  durationMs: 1234,
  outcome: "failed",
  exitCode: 1,
  reason: "failed in phase tests: 1 test(s) failed",
  phases: [phase("reset", "pass"), phase("tests", "fail", "1 passed, 1 failed"), phase("leak check", "fail", "tenders 2"), phase("sweep", "pass")],
  tests,
  leaks: { tenders: 2 },
  swept: { tenders: 2 },
  kept: null,
  earlier: { runId: "r0", rows: { customers: 1 } },
  http: null,
  cost: null,
  files: { report: "/r/report.json", junit: "/r/junit.xml", summary: "/r/summary.md" }
}

describe("LaneReport", () => {
  it("every view shows the same phase statuses", () => {
    const terminal = report.phases.map((p) => LaneReport.renderPhase(p, false)).join("\n")
    const markdown = LaneReport.renderMarkdown(report)
    const junit = LaneReport.renderJunit(report)
    for (const p of report.phases) {
      expect(terminal).toMatch(new RegExp(`${p.status === "pass" ? "✓" : "✗"} ${p.name}`))
      expect(markdown).toContain(`| ${p.name} | ${p.status} |`)
      const junitCase = new RegExp(`name="${p.name}" time="[\\d.]+"${p.status === "pass" ? "/>" : ">\\s*<failure"}`)
      expect(junit).toMatch(junitCase)
    }
  })

  it("every view lists the problems, what was left, swept, and removed at reset", () => {
    const terminal = LaneReport.renderTerminal(report, false)
    const markdown = LaneReport.renderMarkdown(report)
    for (const view of [terminal, markdown]) {
      expect(view).toContain("a.test.ts > s > bad <one>: expected 1 & 2")
      expect(view).toContain("b.test.ts > t > never: not run: suite")
      expect(view).toMatch(/[Ll]eft behind by this run:?\**:? tenders 2/)
      expect(view).toMatch(/[Ss]wept:?\**:? tenders 2/)
      expect(view).toContain("left by run")
    }
    // one test not run and one suite error: two errors, as junit.xml counts them
    expect(terminal).toContain("FAILED  1 passed, 1 failed, 2 error(s), 1 skipped, 2 not selected, 2 external call(s), run r1")
    const junitErrors = [...LaneReport.renderJunit(report).matchAll(/<testsuite name="[ab]\.test\.ts"[^>]* errors="(\d+)"/g)]
      .reduce((sum, m) => sum + Number(m[1]), 0)
    expect(junitErrors).toBe(2)
    expect(terminal).not.toContain("\u001b[")
  })

  it("the terminal and summary.md show the HTTP mode and the cost of the run's external calls", () => {
    const totals = {
      calls: 2, live: 0, recorded: 0, replayed: 2, inputTokens: 120, outputTokens: 30, costUsd: 0, replayedUsd: 0.000036,
      unpricedModels: []
    }
    const withCost: LaneReport.Report = {
      ...report,
      http: { mode: "replay", cassettes: "/c", cassetteCount: 1, placeholders: ["TENDERBOT_LLM_API_KEY"], tests: [] },
      cost: {
        calls: [],
        tests: [{ test: "a.test.ts > s > ok", ...totals }],
        total: totals,
        budget: { maxCalls: 5, maxCostUsd: null, exceeded: null },
        problems: [],
        prices: { asOf: "2025-08", set: [] }
      }
    }
    const terminal = LaneReport.renderTerminal(withCost, false)
    expect(terminal).toContain("http: replay (1 cassette(s) in /c); placeholders for TENDERBOT_LLM_API_KEY")
    expect(terminal).toContain("external calls: 2 (2 replayed), 150 tokens, estimated cost $0.000000")
    expect(terminal).toContain("budget 5 call(s): within")
    const markdown = LaneReport.renderMarkdown(withCost)
    expect(markdown).toContain("| a.test.ts > s > ok | 2 | 2 replayed | 120 | 30 | $0.000000 |")
    expect(LaneReport.renderTerminal(report, false)).not.toContain("external calls:")
  })

  it("junit.xml: a suite per file, failures, errors and skips, escaped", () => {
    const junit = LaneReport.renderJunit(report)
    expect(junit).toContain(`<testsuites name="workflow-live" outcome="failed"`)
    expect(junit).toMatch(/<testsuite name="a.test.ts" tests="2" failures="1" errors="0" skipped="0"/)
    expect(junit).toMatch(/<testsuite name="b.test.ts" tests="3" failures="0" errors="2" skipped="1"/)
    expect(junit).toContain(`name="s &gt; bad &lt;one&gt;"`)
    expect(junit).toContain(`<failure message="expected 1 &amp; 2">`)
  })

  it("the verdict fails failed tests, errors, run errors and an empty selection; a skipped lane may run nothing", () => {
    const none: LaneReport.Tests = { ...tests, passed: 0, failed: 0, errors: 0, skipped: 0, cases: [], runErrors: [] }
    expect(LaneReport.verdictProblems(tests, false)).toHaveLength(3)
    expect(LaneReport.verdictProblems({ ...none, passed: 3 }, false)).toEqual([])
    expect(LaneReport.verdictProblems(none, false)).toEqual([expect.stringContaining("the selection ran no test")])
    expect(LaneReport.verdictProblems({ ...none, skipped: 4 }, true)).toEqual([])
  })
})

describe("the sweep's order", () => {
  it("deletes children before the rows they reference; a cycle goes last", () => {
    const edges = [
      { child: "notifications", parent: "tender_matches" },
      { child: "notifications", parent: "customers" },
      { child: "tender_matches", parent: "tenders" },
      { child: "tender_matches", parent: "alert_profiles" },
      { child: "alert_profiles", parent: "customers" },
      { child: "a", parent: "b" },
      { child: "b", parent: "a" }
    ]
    const order = childrenFirst(["customers", "tenders", "alert_profiles", "tender_matches", "notifications", "a", "b"], edges)
    for (const { child, parent } of edges.slice(0, 5)) expect(order.indexOf(child)).toBeLessThan(order.indexOf(parent))
    expect(order.slice(-2).sort()).toEqual(["a", "b"])
  })
})
