// The kept rows of failed tests: one psql command (no password, shell-safe), the same in the terminal and
// in summary.md; the keep setting refused when it is not `none` or `failed`.
import { Effect, Either } from "effect"
import { describe, expect, it, vi } from "vitest"
import { keep } from "../../src/cli/handlers/run.js"
import * as KeptReport from "../../src/internal/keptReport.js"
import * as Keep from "../../src/lane/keep.js"
import * as Progress from "../../src/lane/progress.js"
import * as LaneReport from "../../src/LaneReport.js"

const endpoint = { host: "127.0.0.1", port: 5433, user: "ci", database: "tenderbot_workflow_test" }
const ids = { customers: ["2", "10"], alert_profiles: ["1"], tenders: [] }

const kept: LaneReport.KeptTest = {
  file: "test/workflow_live/a.test.ts",
  name: "alerts > notifies",
  keys: ["wl-r1-0a1b2c3d-1"],
  rows: { customers: 2, alert_profiles: 1 },
  ids,
  psql: KeptReport.psqlCommand(endpoint, ids)
}

describe("keptReport", () => {
  it("builds one SELECT per table with kept rows, and a psql command from the DSN's parts only", () => {
    expect(KeptReport.queries(ids)).toEqual([
      "SELECT * FROM customers WHERE id IN (2, 10) ORDER BY id",
      "SELECT * FROM alert_profiles WHERE id IN (1) ORDER BY id"
    ])
    expect(kept.psql).toBe(
      "psql -h 127.0.0.1 -p 5433 -U ci -d tenderbot_workflow_test " +
        "-c 'SELECT * FROM customers WHERE id IN (2, 10) ORDER BY id' -c 'SELECT * FROM alert_profiles WHERE id IN (1) ORDER BY id'"
    )
  })

  it("quotes a host or user the shell would split or expand", () => {
    const command = KeptReport.psqlCommand({ ...endpoint, host: "/var/run/postgresql", user: "o'neil $HOME" }, { customers: ["1"] })
    expect(command).toContain("-h /var/run/postgresql -p 5433 -U 'o'\\''neil $HOME' -d")
  })

  it("the terminal and summary.md show the same test, keys, counts and command", () => {
    const report = { kept: [kept] } as unknown as LaneReport.Report
    const terminal = LaneReport.sections.flatMap((s) => s.title === "Kept" ? s.terminal(report) : []).join("\n")
    const markdown = LaneReport.sections.flatMap((s) => s.title === "Kept" ? s.markdown(report) : []).join("\n")
    for (const view of [terminal, markdown]) {
      expect(view).toContain("test/workflow_live/a.test.ts > alerts > notifies")
      expect(view).toContain("wl-r1-0a1b2c3d-1")
      expect(view).toContain("customers 2, alert_profiles 1")
      expect(view).toContain(kept.psql)
      expect(view).toContain("PGPASSWORD")
    }
    expect(KeptReport.renderTerminal(null)).toEqual([])
    expect(KeptReport.renderMarkdown([])).toEqual([])
  })

  it("a failed test that left no rows: no psql command, and no hint about one", () => {
    const empty: LaneReport.KeptTest = { ...kept, keys: [], rows: {}, ids: {}, psql: KeptReport.psqlCommand(endpoint, {}) }
    for (const view of [KeptReport.renderTerminal([empty]), KeptReport.renderMarkdown([empty])]) {
      const text = view.join("\n")
      expect(text).toContain("test/workflow_live/a.test.ts > alerts > notifies")
      expect(text).not.toContain("psql")
      expect(text).not.toContain("PGPASSWORD")
    }
  })

  it("merges the kept rows of several tests per table, for the leak check and the sweep", () => {
    const other = { ...kept, ids: { customers: ["10", "11"], notifications: ["4"] } }
    expect(Keep.asKeep([kept, other])).toEqual({ customers: ["2", "10", "11"], alert_profiles: ["1"], tenders: [], notifications: ["4"] })
    expect(Keep.totals([kept, other])).toEqual({ customers: 3, alert_profiles: 1, tenders: 0, notifications: 1 })
    expect(Keep.asKeep(null)).toEqual({})
  })
})

describe("the keep setting", () => {
  const decide = (flag: boolean) => Effect.runSync(Effect.either(keep(flag)))

  it("is none unless asked for, by the flag or WORKFLOW_LIVE_KEEP", () => {
    vi.stubEnv("WORKFLOW_LIVE_KEEP", "")
    expect(decide(false)).toEqual(Either.right("none"))
    expect(decide(true)).toEqual(Either.right("failed"))
    vi.stubEnv("WORKFLOW_LIVE_KEEP", " failed ")
    expect(decide(false)).toEqual(Either.right("failed"))
  })

  it("refuses any other value, naming the variable and the fix", () => {
    vi.stubEnv("WORKFLOW_LIVE_KEEP", "always")
    const refused = decide(false)
    expect(Either.isLeft(refused) && refused.left.message).toMatch(
      /^WORKFLOW_LIVE_KEEP refused \(invalid-setting\): expected one of none, failed[\s\S]*Fix: {4}export WORKFLOW_LIVE_KEEP=failed/
    )
  })
})

describe("progress lines", () => {
  it("announce the slow phases only, naming the database", () => {
    expect(Progress.phaseText("reset", "tenderbot_workflow_test")).toBe("resetting tenderbot_workflow_test")
    expect(Progress.phaseText("preflight", undefined)).toMatch(/^preflight: /)
    expect(Progress.phaseText("sweep", "x")).toBeUndefined()
    expect(Progress.line("starting Vitest")).toBe("  … starting Vitest")
  })
})
