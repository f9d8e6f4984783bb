// The lane starts Vitest (its import, config, projects) while preflight and the reset run. A reset that
// fails meanwhile leaves no test run, not even a test file loaded, and the lane exits with the reset's
// error. Every millisecond of the lane's own time is in a phase of its report: the phases add up to the
// report's duration, and that duration is nearly all of the process's wall time.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as Cli from "../support/cli.js"
import { laneDsn, probeConfig, readReport, workflowDatabase } from "../support/lane.js"
import { withClient } from "../support/sentinels.js"

const dir = mkdtempSync(join(tmpdir(), "wl-lane-overlap-"))
const generated = join(Cli.root, "test/support/lane/generated")
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  rmSync(join(generated, `overlap-${process.pid}.config.ts`), { force: true })
  rmSync(join(generated, `overlap-${process.pid}.live.ts`), { force: true })
})

// a config that says when Vitest loaded it, and a test file that says when it was imported and when it ran
const sentinels = { config: join(dir, "config-loaded"), imported: join(dir, "file-imported"), ran: join(dir, "test-ran") }
const writeProbe = (): string => {
  mkdirSync(generated, { recursive: true })
  const config = join(generated, `overlap-${process.pid}.config.ts`)
  writeFileSync(
    join(generated, `overlap-${process.pid}.live.ts`),
    `import { writeFileSync } from "node:fs"
import { it } from "vitest"
writeFileSync(${JSON.stringify(sentinels.imported)}, "")
it("writes its sentinel", () => writeFileSync(${JSON.stringify(sentinels.ran)}, ""))
`
  )
  writeFileSync(
    config,
    `import { writeFileSync } from "node:fs"
import { defineConfig } from "vitest/config"
writeFileSync(${JSON.stringify(sentinels.config)}, "")
const root = ${JSON.stringify(Cli.root)}
export default defineConfig({ root, test: { projects: [{ test: {
  name: "workflow-live", root, include: ["test/support/lane/generated/overlap-${process.pid}.live.ts"],
  environment: "node", globalSetup: ["src/vitest/globalSetup.ts"], pool: "threads"
} }] } })
`
  )
  return config
}

describe("a reset that fails while Vitest is starting", () => {
  it("runs no test, loads no test file, closes Vitest and exits with the reset's error", async () => {
    const config = writeProbe()
    const reportDir = join(dir, "failed")
    // another session holds the reset's lock: the reset waits 3 s for it, then fails; Vitest starts meanwhile
    await withClient("postgres", async (holder) => {
      await holder.query("SELECT pg_advisory_lock($1, hashtext($2))", [DatabaseReset.lockNamespace, workflowDatabase])
      const outcome = await Cli.workflowLive(["run", "--stand-ins", "--report-dir", reportDir, "--", "--config", config], {
        env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_LOCK_TIMEOUT: "3 seconds" },
        timeoutMs: 60_000
      })
      expect(outcome.signal, outcome.output).toBeNull()
      expect(outcome.code, outcome.output).toBe(1)
      expect(outcome.output).toContain("lock-timeout")
      expect(outcome.output).toMatch(/✗ reset/)
      expect(outcome.output).not.toMatch(/✓ tests|RUN\s+v\d/)
    })
    expect(existsSync(sentinels.config), "Vitest had loaded its config while the reset waited").toBe(true)
    expect(existsSync(sentinels.imported), "a test file was loaded before the reset was done").toBe(false)
    expect(existsSync(sentinels.ran), "a test ran").toBe(false)
    const report = readReport(reportDir)
    expect(report.outcome).toBe("failed")
    expect(report.reason).toMatch(/^failed in phase reset: .*lock-timeout/)
    expect(report.tests).toBeNull()
    expect(report.phases.map((p) => p.name)).not.toContain("tests")
  }, 120_000)
})

describe("the report's phases", () => {
  it("add up to the report's duration, which is nearly all of the process's wall time", async () => {
    const reportDir = join(dir, "passed")
    const outcome = await Cli.workflowLive(
      ["run", "--stand-ins", "--report-dir", reportDir, "--", "--config", probeConfig, "passing"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn() } }
    )
    expect(outcome.code, outcome.output).toBe(0)
    const report = readReport(reportDir)
    const names = report.phases.map((p) => p.name)
    expect(names.slice(0, 3)).toEqual(["start", "load", "run id"])
    expect(names.slice(-2)).toEqual(["exit", "report"])
    const sum = report.phases.reduce((total, p) => total + p.ms, 0)
    // each phase runs from the end of the one before: no gap but float rounding
    expect(Math.abs(sum - report.durationMs)).toBeLessThan(1)
    // the lane's time starts with the process (performance.timeOrigin) and ends as the report is written;
    // outside it are only exec before Node's time origin and the exit after the write: a small part of
    // the wall time this test measured around the process, however fast or slow the machine is today
    expect(report.durationMs).toBeLessThanOrEqual(outcome.ms)
    expect(outcome.ms - report.durationMs, JSON.stringify(report.phases)).toBeLessThan(0.2 * report.durationMs)
  }, 120_000)
})
