// Bad input to `workflow-live` gets a typed error naming the setting and the fix: no stack trace, no
// `[object Object]`, no spin, nothing reset. `--help` is plain text when not on a TTY or with NO_COLOR and
// shows how Vitest arguments are passed and every environment variable. Nothing here needs a server: the
// DSN points at a port nothing listens on, and no input error may get as far as connecting.
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as Cli from "../support/cli.js"

const dir = mkdtempSync(join(tmpdir(), "wl-lane-cli-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const aFile = join(dir, "a-file")
writeFileSync(aFile, "not a directory\n")

const env = { TENDERBOT_WORKFLOW_DB_DSN: "postgres://postgres@127.0.0.1:1/tenderbot_workflow_test" }

/** Refused before any phase: exit 1 or 2, the words expected, and nothing a user should not see. */
const expectRefused = (outcome: Cli.Outcome, words: ReadonlyArray<string>): void => {
  expect(outcome.code, outcome.output).not.toBe(0)
  expect(outcome.code, outcome.output).not.toBeNull()
  for (const word of words) expect(outcome.output).toContain(word)
  expect(outcome.output).toMatch(/Fix:/)
  expect(outcome.output).not.toMatch(Cli.stackLine)
  expect(outcome.output).not.toContain("[object Object]")
  expect(outcome.output).not.toMatch(/✓ (run id|guard|reset)/)
  expect(outcome.output).not.toContain("\u001b[")
}

describe("workflow-live run refuses bad input before anything runs", () => {
  it("an unknown option: what was wrong and where the right form is, exit 2", async () => {
    const outcome = await Cli.workflowLive(["run", "--bogus"], { env })
    expectRefused(outcome, ["--bogus", "workflow-live <command> --help", "after `--`"])
    expect(outcome.code).toBe(2)
  })

  it("--report-dir naming a file", async () => {
    const outcome = await Cli.workflowLive(["run", "--report-dir", aFile], { env })
    expectRefused(outcome, ["--report-dir refused (report-dir-not-a-directory)", `${aFile} is a file`])
    expect(outcome.code).toBe(1)
  })

  it("--report-dir below a file (cannot be created)", async () => {
    const outcome = await Cli.workflowLive(["run", "--report-dir", join(aFile, "reports")], { env })
    expectRefused(outcome, ["--report-dir refused (report-dir-not-a-directory)"])
  })

  it("--report-dir in /proc ends at once with a refusal instead of spinning", async () => {
    const outcome = await Cli.workflowLive(["run", "--report-dir", "/proc/workflow-live-reports"], { env, timeoutMs: 15_000 })
    expect(outcome.signal, "killed by the timeout: it spun").toBeNull()
    expectRefused(outcome, ["--report-dir refused (report-dir-unusable)", "cannot create /proc/workflow-live-reports"])
    expect(outcome.ms).toBeLessThan(10_000)
  })

  it("WORKFLOW_LIVE_REPORT_DIR naming a file is refused under its own name", async () => {
    const outcome = await Cli.workflowLive(["run"], { env: { ...env, WORKFLOW_LIVE_REPORT_DIR: aFile } })
    expectRefused(outcome, ["WORKFLOW_LIVE_REPORT_DIR refused (report-dir-not-a-directory)", "export WORKFLOW_LIVE_REPORT_DIR=DIR"])
  })

  it.each([["forever"], ["-5 seconds"]])("WORKFLOW_LIVE_LOCK_TIMEOUT=%s names the variable and the fix", async (value) => {
    const outcome = await Cli.workflowLive(["run"], { env: { ...env, WORKFLOW_LIVE_LOCK_TIMEOUT: value } })
    expectRefused(outcome, [
      "WORKFLOW_LIVE_LOCK_TIMEOUT refused (invalid-setting)",
      `received "${value}"`,
      `export WORKFLOW_LIVE_LOCK_TIMEOUT="60 seconds"`
    ])
  })

  it("a misspelled Vitest option after --", async () => {
    const outcome = await Cli.workflowLive(["run", "--", "--shrad", "1/2"], { env })
    expectRefused(outcome, ["(unknown-vitest-option)", "`--shrad`", "-- --shrad 1/2"])
  })

  it("an option the lane decides itself (--project)", async () => {
    const outcome = await Cli.workflowLive(["run", "--", "--project", "unit"], { env })
    expectRefused(outcome, ["(unsupported-vitest-option)", "`--project`"])
  })
})

describe("workflow-live --help", () => {
  // a pseudo-terminal from util-linux `script`, to see what a user at a terminal sees
  const onTty = (args: string, extra: Record<string, string>): string =>
    execFileSync("script", ["-qec", `node bin/workflow-live.js ${args}`, "/dev/null"], {
      cwd: Cli.root,
      env: { ...process.env, ...extra },
      encoding: "utf8"
    })

  it("is plain text when piped, and lists `-- vitest args` and every environment variable", async () => {
    for (const args of [["--help"], ["run", "--help"]]) {
      const outcome = await Cli.workflowLive(args, { env: { NO_COLOR: undefined } })
      expect(outcome.code, outcome.output).toBe(0)
      expect(outcome.output).not.toContain("\u001b[")
      expect(outcome.output).toContain("[-- vitest args]")
      expect(outcome.output).toContain("ENVIRONMENT")
      for (const variable of ["TENDERBOT_WORKFLOW_DB_DSN", "WORKFLOW_LIVE_ON_MISSING", "WORKFLOW_LIVE_LOCK_TIMEOUT", "NO_COLOR"]) {
        expect(outcome.output).toContain(variable)
      }
    }
    // the commands, each with what it does in a line
    const top = await Cli.workflowLive(["--help"], { env: { NO_COLOR: "1" } })
    for (const command of ["target", "preflight", "reset", "run", "demo", "prune"]) {
      expect(top.output).toMatch(new RegExp(`^  ${command} +\\S.{20,}$`, "m"))
    }
  })

  it("is coloured on a terminal, and plain on a terminal with NO_COLOR", () => {
    const { NO_COLOR: _unset, ...rest } = process.env
    expect(execFileSync("script", ["-qec", "node bin/workflow-live.js --help", "/dev/null"], {
      cwd: Cli.root,
      env: rest,
      encoding: "utf8"
    })).toContain("\u001b[")
    expect(onTty("--help", { NO_COLOR: "1" })).not.toContain("\u001b[")
  })
})
