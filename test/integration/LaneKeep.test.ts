// WORKFLOW_LIVE_KEEP=failed on the real lane: a failed test's rows stay and are shown (keys, counts, a psql
// command that is run here and must print them), a passing test's rows go, a passing test's leak still
// fails the leak check, and the next run's reset removes the kept rows and says so.
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, describe, expect, it } from "vitest"
import * as Cli from "../support/cli.js"
import { laneDsn, probeConfig, readReport, rowsOfRun, rowsPerTable } from "../support/lane.js"
import { withClient } from "../support/sentinels.js"

const dir = mkdtempSync(join(tmpdir(), "wl-lane-keep-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const lane = (runId: string, files: ReadonlyArray<string>, extra: ReadonlyArray<string> = [], env: Record<string, string> = {}) =>
  Cli.workflowLive(["run", "--stand-ins", "--report-dir", join(dir, runId), ...extra, "--", "--config", probeConfig, ...files], {
    env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: runId, ...env }
  })

const keyedCustomers = (prefix: string) =>
  withClient("tenderbot_workflow_test", async (client) =>
    (await client.query<{ external_id: string }>(
      "SELECT external_id FROM customers WHERE starts_with(external_id, $1) ORDER BY 1",
      [prefix]
    )).rows.map((r) => r.external_id))

describe("WORKFLOW_LIVE_KEEP=failed", () => {
  it("keeps the failed test's rows, shows them with a working psql command, and the next reset removes them", async () => {
    const run = await lane("keep_one", ["keep-failed", "unkeyed-rows"], [], { WORKFLOW_LIVE_KEEP: "failed" })
    expect(run.code, run.output).toBe(1)
    const report = readReport(join(dir, "keep_one"))
    const failedName = "keep > fails after the workflow matched a tender"

    // the failed test's rows: its keyed customer, its profile, the workflow's tender it matched, the match
    expect(report.kept, run.output).toHaveLength(1)
    const [kept] = report.kept!
    expect(kept).toMatchObject({
      file: "test/support/lane/keep-failed.live.ts",
      name: failedName,
      rows: { customers: 1, alert_profiles: 1, tenders: 1, tender_matches: 1 }
    })
    // the customer's key (its external id), then the profile's (in its name)
    expect(kept!.keys).toEqual([expect.stringMatching(/^wl-keep_one-[0-9a-f]{8}-1$/), expect.stringMatching(/^wl-keep_one-[0-9a-f]{8}-2$/)])
    expect(await keyedCustomers(kept!.keys[0]!)).toEqual([kept!.keys[0]])
    expect(await rowsOfRun("keep_one")).toBe(2)

    // the passing tests' rows are gone; their leak (unkeyed tenders) still fails the leak check
    expect(await rowsPerTable()).toMatchObject({ customers: 1, alert_profiles: 1, tenders: 1, tender_matches: 1, notifications: 0 })
    expect(report.leaks).toEqual({ tenders: 2 })
    expect(report.swept).toMatchObject({ tenders: 2 })
    expect(report.phases.find((p) => p.name === "leak check")).toMatchObject({ status: "fail" })
    expect(report.phases.find((p) => p.name === "leak check")?.detail).toContain("kept for inspection: customers 1")
    // the headline names the cause, the failed test, then the leak its run left
    expect(report.reason).toMatch(/^failed in phase tests: .*; then leak check \(Run keep_one left rows behind \(leaked\): tenders 2\.\)$/)
    expect(run.output).toContain("The leak check phase failed too: Run keep_one left rows behind (leaked): tenders 2.")
    expect(run.output).not.toContain("failed in phase `leak check`")
    expect(run.output).toContain("left behind by this run: tenders 2")

    // every view shows the same: keys, counts and the command, never a password
    expect(run.output).toContain(`✗ test/support/lane/keep-failed.live.ts > ${failedName}`)
    expect(run.output).toContain(`keys: ${kept!.keys.join(", ")}`)
    expect(run.output).toContain("rows: customers 1, alert_profiles 1, tenders 1, tender_matches 1")
    expect(run.output).toContain(kept!.psql)
    const summary = readFileSync(join(dir, "keep_one", "summary.md"), "utf8")
    expect(summary).toContain("**Kept for inspection**")
    expect(summary).toContain(kept!.psql)
    expect(kept!.psql).toMatch(/^psql -h \S+ -p \d+ -U \S+ -d tenderbot_workflow_test -c 'SELECT \* FROM customers WHERE id IN/)
    expect(kept!.psql).not.toMatch(/password|PGPASSWORD=/i)

    // the printed command, run as printed (PGPASSWORD from the environment, as the user would set it)
    const line = run.output.split("\n").find((l) => l.trim().startsWith("psql "))!.trim()
    const { stdout } = await promisify(execFile)("bash", ["-c", line], { cwd: Cli.root })
    expect(stdout).toContain(kept!.keys[0])
    expect(stdout).toContain("ted-kept-1")
    expect(stdout).toMatch(/\(1 row\)[\s\S]*\(1 row\)[\s\S]*\(1 row\)[\s\S]*\(1 row\)/)

    // the next run's reset removes them and says so
    const next = await lane("keep_two", ["passing"])
    expect(next.code, next.output).toBe(0)
    expect(next.output).toMatch(/removed what run keep_one left: [^\n]*customers 1/)
    expect(next.output).toMatch(/removed at reset, left by run keep_one: [^\n]*alert_profiles 1/)
    expect(readReport(join(dir, "keep_two")).earlier).toMatchObject({
      runId: "keep_one",
      rows: { customers: 1, alert_profiles: 1, tenders: 1, tender_matches: 1 }
    })
    expect(await rowsOfRun("keep_one")).toBe(0)
    expect(existsSync(join(dir, "keep_two", "report.json"))).toBe(true)
  }, 240_000)

  it("keeps nothing without the setting, and refuses a value it does not know", async () => {
    const plain = await lane("keep_off", ["keep-failed"])
    expect(plain.code, plain.output).toBe(1)
    expect(readReport(join(dir, "keep_off")).kept).toBeNull()
    expect(await rowsOfRun("keep_off")).toBe(0)
    expect(await rowsPerTable()).toMatchObject({ customers: 0, tenders: 0, tender_matches: 0 })
    const flag = await lane("keep_flag", ["keep-failed"], ["--keep-failed"])
    expect(readReport(join(dir, "keep_flag")).kept?.[0]?.rows).toMatchObject({ customers: 1, tenders: 1 })
    expect(flag.output).not.toContain("removed what run keep_off left")
    const bad = await lane("keep_bad", ["passing"], [], { WORKFLOW_LIVE_KEEP: "always" })
    expect(bad.code).toBe(1)
    expect(bad.output).toContain("WORKFLOW_LIVE_KEEP refused (invalid-setting)")
    expect(bad.output).toContain("export WORKFLOW_LIVE_KEEP=failed")
  }, 240_000)
})
