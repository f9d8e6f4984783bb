// Between its phase lines the lane says what it is doing (preflight, the reset, Vitest starting and
// collecting), so a slow step is not a silent pause. Piped (not a TTY), those are plain lines, in order.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Cli from "../support/cli.js"
import { laneDsn, probeConfig } from "../support/lane.js"

const dir = mkdtempSync(join(tmpdir(), "wl-lane-progress-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Where each line appears in `output`, failing when one is missing. */
const positions = (output: string, lines: ReadonlyArray<RegExp>): ReadonlyArray<number> =>
  lines.map((line) => {
    const at = output.search(line)
    expect(at, `${line} in:\n${output}`).toBeGreaterThanOrEqual(0)
    return at
  })

describe("progress while the lane works", () => {
  it("piped output has the progress lines between the phase lines, in order, without ANSI", async () => {
    const run = await Cli.workflowLive(
      ["run", "--stand-ins", "--report-dir", dir, "--", "--config", probeConfig, "passing", "real-clock"],
      { env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: "progress_lines" } }
    )
    expect(run.code, run.output).toBe(0)
    const order = positions(run.stdout, [
      /^ {2}✓ guard /m,
      /^ {2}… preflight: checking the environment, the external APIs and the database$/m,
      /^ {2}✓ preflight /m,
      /^ {2}… resetting tenderbot_workflow_test$/m,
      /^ {2}✓ reset /m,
      /^ {2}✓ protect /m,
      /^ {2}… starting Vitest \(the workflow-live project\)$/m,
      /^ {2}… collecting 2 test file\(s\)$/m,
      /^ {2}✓ tests /m,
      /^ {2}PASSED /m
    ])
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(run.stdout).not.toContain("\u001b[")
    expect(run.stdout).not.toContain("\r")
  }, 120_000)
})

describe("progress on a terminal", () => {
  it("is one updating line that the phase's own line replaces", async () => {
    const command = ["node", "bin/workflow-live.js", "run", "--stand-ins", "--report-dir", dir, "--", "--config", probeConfig, "passing"].join(" ")
    // `script` gives the lane a real pseudo-terminal
    const run = await Cli.run("script", ["-qec", command, "/dev/null"], {
      env: { TENDERBOT_WORKFLOW_DB_DSN: laneDsn(), WORKFLOW_LIVE_RUN_ID: "progress_tty" }
    })
    expect(run.code, run.output).toBe(0)
    const erase = "\r\u001b[2K"
    expect(run.stdout).toMatch(/ {2}… resetting tenderbot_workflow_test[^\n]*\r\u001b\[2K {2}✓ reset /)
    expect(run.stdout).toMatch(/ {2}… preflight: [^\n]*\r\u001b\[2K {2}✓ preflight /)
    // every updating line is erased before anything else is written
    expect(run.stdout.split(erase)).toHaveLength(3)
  }, 120_000)
})
