// The lane's verdict is what happened: the real lane (`workflow-live run`) on probe suites that fail in
// each way a live suite can, and each of the five outputs (terminal, report.json, junit.xml, summary.md,
// $GITHUB_STEP_SUMMARY) must say the same thing.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import type * as LaneReport from "../../src/LaneReport.js"
import * as Cli from "../support/cli.js"
import * as TestDatabase from "../support/testDatabase.js"
import { laneDsn, probeConfig, readReport, rowsPerTable } from "../support/lane.js"

const dir = mkdtempSync(join(tmpdir(), "wl-lane-verdicts-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface LaneRun {
  readonly code: number | null
  readonly output: string
  readonly report: LaneReport.Report
  readonly junit: string
  readonly summary: string
  readonly stepSummary: string
}

/** Runs the lane on probe files (test/support/lane/<name>.live.ts) with extra Vitest arguments. */
const lane = async (name: string, vitestArgs: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<LaneRun> => {
  const reportDir = join(dir, name)
  const stepSummaryFile = join(dir, `${name}.step-summary.md`)
  const { code, output } = await Cli.workflowLive(
    ["run", "--stand-ins", "--report-dir", reportDir, "--", "--config", probeConfig, ...vitestArgs],
    {
      env: {
        TENDERBOT_WORKFLOW_DB_DSN: laneDsn(),
        WORKFLOW_LIVE_RUN_ID: name.replace(/-/g, "_"),
        GITHUB_STEP_SUMMARY: stepSummaryFile,
        ...env
      }
    }
  )
  const read = (file: string) => existsSync(file) && statSync(file).isFile() ? readFileSync(file, "utf8") : ""
  return {
    code,
    output,
    report: readReport(reportDir),
    junit: read(join(reportDir, "junit.xml")),
    summary: read(join(reportDir, "summary.md")),
    stepSummary: read(stepSummaryFile)
  }
}

const phaseOf = (run: LaneRun, name: string) => run.report.phases.find((p) => p.name === name)

/** Every output says the lane failed, and in which phase. */
const expectFailedEverywhere = (run: LaneRun, phase: string): void => {
  expect(run.code, run.output).toBe(1)
  expect(run.output).toMatch(/\n {2}FAILED {2}/)
  expect(run.output).not.toMatch(/PASSED/)
  expect(run.output).toContain(`failed in phase \`${phase}\``)
  expect(run.report.outcome).toBe("failed")
  expect(run.report.exitCode).toBe(1)
  expect(phaseOf(run, phase)?.status).toBe("fail")
  expect(run.junit).toMatch(/<testsuites name="workflow-live" outcome="failed"/)
  expect(run.junit).toMatch(new RegExp(`classname="workflow-live lane" name="${phase}"[^>]*>\\s*<failure`))
  for (const markdown of [run.summary, run.stepSummary]) {
    expect(markdown).toContain("### workflow-live: failed")
    expect(markdown).toMatch(new RegExp(`\\| ${phase} \\| fail \\|`))
  }
  expect(run.output).not.toMatch(Cli.stackLine)
}

describe("the lane fails when its tests did not all run and pass", () => {
  it("a live file that throws on import fails the lane, next to a passing file", async () => {
    const run = await lane("import-throws", ["import-throws", "passing"])
    expectFailedEverywhere(run, "tests")
    expect(run.report.tests?.passed).toBe(2)
    expect(run.report.tests?.runErrors).toEqual([
      expect.objectContaining({ where: "test/support/lane/import-throws.live.ts", message: expect.stringContaining("intended import failure") })
    ])
    expect(run.output).toContain("intended import failure")
    expect(run.junit).toMatch(/<error message="[^"]*intended import failure/)
  }, 120_000)

  it("a suite whose layer cannot be built fails the lane; its tests are errors, not skips", async () => {
    const run = await lane("layer-broken", ["layer-broken", "passing"])
    expectFailedEverywhere(run, "tests")
    expect(run.report.tests).toMatchObject({ passed: 2, failed: 0, errors: 3, skipped: 0 })
    const broken = run.report.tests!.cases.filter((c) => c.file.endsWith("layer-broken.live.ts"))
    expect(broken.map((c) => c.state)).toEqual(["error", "error"])
    expect(broken[0]?.message).toContain("intended layer failure")
    // the two tests not run and the suite's own setup error, as junit.xml counts them
    expect(run.report.tests!.runErrors).toHaveLength(1)
    expect(run.output).toMatch(/2 passed, 0 failed, 3 error\(s\), 0 skipped/)
    const junitErrors = [...run.junit.matchAll(/<testsuite name="[^"]*layer-broken[^"]*"[^>]* errors="(\d+)"/g)].map((m) => Number(m[1]))
    expect(junitErrors).toEqual([3])
  }, 120_000)

  it("a -t filter that selects no test fails the lane", async () => {
    const run = await lane("no-selection", ["passing", "-t", "no such test name"])
    expectFailedEverywhere(run, "tests")
    expect(run.report.tests).toMatchObject({ passed: 0, failed: 0, skipped: 0, notSelected: 2 })
    expect(run.output).toContain("the selection ran no test")
  }, 120_000)

  it("a file filter that matches no file fails the lane the same way", async () => {
    const run = await lane("no-file", ["no-such-probe-file"])
    expectFailedEverywhere(run, "tests")
    expect(run.report.tests).toMatchObject({ passed: 0, failed: 0, skipped: 0 })
    expect(run.output).toContain("the selection ran no test")
    expect(run.output).not.toContain("vitest-crashed")
  }, 120_000)

  it("a failing test fails the tests phase; the leak check and sweep pass, in all five outputs", async () => {
    const run = await lane("failing-test", ["failing-test"])
    expectFailedEverywhere(run, "tests")
    expect(run.report.phases.map((p) => [p.name, p.status])).toEqual([
      ["start", "pass"],
      ["load", "pass"],
      ["run id", "pass"],
      ["guard", "pass"],
      ["preflight", "pass"],
      ["reset", "pass"],
      ["protect", "pass"],
      ["tests", "fail"],
      ["leak check", "pass"],
      ["sweep", "pass"],
      ["exit", "pass"],
      ["report", "pass"]
    ])
    expect(run.output).toMatch(/✗ tests .*1 passed, 1 failed/)
    expect(run.output).toMatch(/✓ leak check .*no row of this run left/)
    expect(run.junit).toMatch(/name="leak check" time="[\d.]+"\/>/)
    expect(run.junit).toMatch(/name="failing &gt; finds the wrong number of profiles"[^>]*>\s*<failure message="[^"]*the intended failure/)
    for (const markdown of [run.summary, run.stepSummary]) {
      expect(markdown).toMatch(/\| leak check \| pass \|/)
      expect(markdown).toContain("finds the wrong number of profiles")
    }
    expect(await rowsPerTable()).toMatchObject({ customers: 0, alert_profiles: 0 })
  }, 120_000)
})

describe("the leak check sees everything the run wrote", () => {
  it("rows a workflow writes under its own ids (no fixture key) are named by the leak check and swept", async () => {
    const run = await lane("unkeyed-rows", ["unkeyed-rows"])
    expectFailedEverywhere(run, "leak check")
    expect(run.report.tests).toMatchObject({ passed: 1, failed: 0 })
    expect(run.report.leaks).toEqual({ tenders: 2 })
    expect(run.report.swept).toEqual({ tenders: 2 })
    expect(phaseOf(run, "tests")?.status).toBe("pass")
    expect(phaseOf(run, "sweep")).toMatchObject({ status: "pass", detail: "removed tenders 2" })
    expect(run.output).toMatch(/✗ leak check .*left behind by this run: tenders 2/)
    expect(run.output).toContain("fixtures.adopt")
    for (const markdown of [run.summary, run.stepSummary]) expect(markdown).toContain("**Left behind by this run:** tenders 2")
    expect(await rowsPerTable()).toMatchObject({ tenders: 0, customers: 0 })
  }, 120_000)
})

describe("live suites run on the real clock", () => {
  it("a suite written as the README shows, whose workflow retries, sleeps and times out, passes in real time", async () => {
    const run = await lane("real-clock", ["real-clock"])
    expect(run.code, run.output).toBe(0)
    expect(run.report.outcome).toBe("passed")
    const [test] = run.report.tests!.cases
    expect(test).toMatchObject({ state: "passed", name: "real clock > a workflow that retries, sleeps and times out finishes in real time" })
    expect(test!.durationMs).toBeGreaterThanOrEqual(500)
    expect(test!.durationMs).toBeLessThan(5_000)
  }, 120_000)
})

describe("Vitest arguments are checked before anything runs", () => {
  it("a test that fails quoting the DSN's password and the API keys: no output, report or summary shows them", async () => {
    const acme = "acme-Probe-Secret-77"
    // one with characters JSON escapes and URLs encode, quoted escaped twice and form-encoded by the test
    const token = 'p@ss w"rd/1!x'
    const run = await lane("secret-error", ["test/support/lane/secret-error.live.ts"], {
      TENDERBOT_WORKFLOW_DB_DSN: laneDsn(TestDatabase.secret),
      WL_PROBE_ACME_API_KEY: acme,
      WL_PROBE_SESSION_TOKEN: token
    })
    expectFailedEverywhere(run, "tests")
    // the error and the console line were there, masked
    expect(run.output).toContain("could not reach postgres://")
    expect(run.output).toContain("*****")
    const written = [run.output, JSON.stringify(run.report), run.junit, run.summary, run.stepSummary]
    for (const text of written) {
      expect(text).not.toContain(TestDatabase.secret)
      expect(text).not.toContain(acme)
      expect(text).not.toContain("stand-in-key")
      for (const form of ["w\\\\\\\"rd", "w%22rd", "w\"rd/1"]) expect(text).not.toContain(form)
    }
  })

  it("a report file that cannot be written fails the lane in phase report, and every file that was written says so", async () => {
    const reportDir = join(dir, "unwritable")
    // an earlier run's passing files, and a directory where this run's junit.xml should go
    mkdirSync(join(reportDir, "junit.xml"), { recursive: true })
    writeFileSync(join(reportDir, "summary.md"), "earlier run: PASSED")
    const run = await lane("unwritable", ["test/support/lane/passing.live.ts"])
    expect(run.code, run.output).toBe(1)
    expect(run.output).toMatch(/\n {2}FAILED {2}/)
    expect(run.output).not.toMatch(/PASSED/)
    expect(run.output).toContain("failed in phase report: could not write")
    expect(run.report).toMatchObject({ outcome: "failed", exitCode: 1 })
    expect(run.report.reason).toMatch(/^failed in phase report: could not write .*junit\.xml/)
    expect(run.report.phases.find((p) => p.name === "report")?.status).toBe("fail")
    expect(run.summary).not.toContain("earlier run")
    expect(run.summary).toMatch(/FAILED|failed/)
    expect(run.stepSummary).toMatch(/FAILED|failed/)
  })

  it("$GITHUB_STEP_SUMMARY that cannot be appended to fails the lane, and the files written say so", async () => {
    const run = await lane("step-summary", ["test/support/lane/passing.live.ts"], { GITHUB_STEP_SUMMARY: "/nonexistent/dir/summary.md" })
    expect(run.code, run.output).toBe(1)
    expect(run.output).toContain("failed in phase report: could not append to $GITHUB_STEP_SUMMARY")
    expect(run.report).toMatchObject({ outcome: "failed", exitCode: 1 })
    expect(run.junit).toMatch(/failures="[1-9]|errors="[1-9]/)
  })

  it("a misspelled option is refused, naming it, with no reset and no stack", async () => {
    const reportDir = join(dir, "misspelled")
    const { code, output } = await Cli.workflowLive(["run", "--report-dir", reportDir, "--", "--shrad", "1/2"], {
      env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn() }
    })
    expect(code, output).toBe(1)
    expect(output).toContain("unknown-vitest-option")
    expect(output).toContain("`--shrad`")
    expect(output).not.toMatch(/✓ reset|RUN {2}v/)
    expect(output).not.toMatch(Cli.stackLine)
  }, 60_000)
})
