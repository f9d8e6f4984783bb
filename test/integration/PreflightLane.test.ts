/**
 * Preflight as a user meets it, in real subprocesses: `workflow-live preflight`, and the live lane
 * (`vitest run --project workflow-live`) under WORKFLOW_LIVE_ON_MISSING. None of these runs gets as far
 * as a reset: each one is either skipped or refused by preflight.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import * as HttpServer from "../support/httpServer.js"
import * as TestDatabase from "../support/testDatabase.js"

const apiKey = "sk-live-Lane9TopSecretKey"
const dsnPassword = TestDatabase.secret

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command with a clean environment: only PATH/HOME plus what the test sets. */
const runProcess = (command: string, args: ReadonlyArray<string>, env: Record<string, string>): Effect.Effect<Ran> =>
  Effect.async<Ran>((resume) => {
    const child = spawn(command, args, {
      cwd: process.cwd(),
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", NO_COLOR: "1", ...env }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })

const expectNoSecrets = (...texts: ReadonlyArray<string>): void => {
  for (const text of texts) {
    expect(text).not.toContain(apiKey)
    expect(text).not.toContain(dsnPassword)
  }
}

const reportOf = (dir: string): string => {
  const file = join(dir, "preflight.json")
  expect(existsSync(file)).toBe(true)
  return readFileSync(file, "utf8")
}

describe("workflow-live preflight (CLI)", () => {
  it.scopedLive("prints the report and exits 0 when every check passes", () =>
    Effect.gen(function*() {
      const llm = yield* HttpServer.scoped({ requireHeader: { name: "authorization", value: `Bearer ${apiKey}` } })
      const tenders = yield* HttpServer.scoped()
      const dir = mkdtempSync(join(tmpdir(), "wl-preflight-cli-"))
      // the CLI checks the lane's own database name, so this run only proves the table and the exit code
      // with a DSN the guard accepts; the workflow database is only read (identity), never written
      const ran = yield* runProcess("node", ["bin/workflow-live.js", "preflight"], {
        TENDERBOT_WORKFLOW_DB_DSN: TestDatabase.url("tenderbot_workflow_test", { password: dsnPassword }),
        TENDERBOT_LLM_BASE_URL: llm.url,
        TENDERBOT_LLM_API_KEY: apiKey,
        TENDERBOT_TENDERS_API_URL: tenders.url,
        WORKFLOW_LIVE_REPORT_DIR: dir
      })
      expect(ran.stdout).toContain("workflow-live preflight: PASS")
      expect(ran.stdout).toContain(`Report (JSON): ${join(dir, "preflight.json")}`)
      expect(ran.stdout).not.toContain("\u001b[")
      expect(ran.code).toBe(0)
      expectNoSecrets(ran.stdout, ran.stderr, reportOf(dir))
    }))

  it.scopedLive("exits non-zero and lists every failure", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.promise(() => HttpServer.freePort())
      const dir = mkdtempSync(join(tmpdir(), "wl-preflight-cli-"))
      const ran = yield* runProcess("node", ["bin/workflow-live.js", "preflight"], {
        TENDERBOT_WORKFLOW_DB_DSN: TestDatabase.url("tenderbot_test", { password: dsnPassword }),
        TENDERBOT_LLM_BASE_URL: "not a url",
        TENDERBOT_LLM_API_KEY: apiKey,
        TENDERBOT_TENDERS_API_URL: `http://127.0.0.1:${closed}`,
        WORKFLOW_LIVE_REPORT_DIR: dir
      })
      expect(ran.code).toBe(1)
      expect(ran.stdout).toContain("workflow-live preflight: FAIL")
      for (const expected of ["[malformed-variable]", "[guard-refused]", "[not-listening]"]) {
        expect(ran.stderr).toContain(expected)
      }
      const json = JSON.parse(reportOf(dir)) as { verdict: string }
      expect(json.verdict).toBe("fail")
      expectNoSecrets(ran.stdout, ran.stderr, reportOf(dir))
    }))
})

describe("the live lane under WORKFLOW_LIVE_ON_MISSING", () => {
  const lane = (env: Record<string, string>): Effect.Effect<Ran> =>
    runProcess("node_modules/.bin/vitest", ["run", "--project", "workflow-live"], env)

  it.scopedLive("skip: missing variables and an unreachable API give a skipped lane, exit 0, reason shown", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.promise(() => HttpServer.freePort())
      const dir = mkdtempSync(join(tmpdir(), "wl-preflight-lane-"))
      const ran = yield* lane({
        WORKFLOW_LIVE_ON_MISSING: "skip",
        TENDERBOT_LLM_API_KEY: apiKey,
        TENDERBOT_TENDERS_API_URL: `http://127.0.0.1:${closed}`,
        WORKFLOW_LIVE_REPORT_DIR: dir
      })
      const output = `${ran.stdout}\n${ran.stderr}`
      expect(output).toContain("The lane is SKIPPED")
      expect(output).toMatch(/^\s*SKIPPED {2}0 passed, 0 failed/m)
      expect(output).toContain("env TENDERBOT_WORKFLOW_DB_DSN: not set")
      expect(output).toContain("env TENDERBOT_LLM_BASE_URL: not set")
      expect(output).toContain("http tenders")
      expect(output).toMatch(/Tests\s+\d+ skipped \(\d+\)/)
      expect(output).not.toMatch(/\d+ (passed|failed)\s*\|/)
      expect(ran.code).toBe(0)
      expectNoSecrets(output, reportOf(dir))
    }))

  it.scopedLive("skip: a guard refusal still fails the lane before anything runs", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "wl-preflight-lane-"))
      // an earlier run's report, which passed: it must not stay beside this run's as if it were this run's
      writeFileSync(join(dir, "preflight.json"), JSON.stringify({ verdict: "pass" }))
      const ran = yield* lane({
        WORKFLOW_LIVE_ON_MISSING: "skip",
        TENDERBOT_WORKFLOW_DB_DSN: TestDatabase.url("tenderbot_test", { password: dsnPassword }),
        TENDERBOT_LLM_API_KEY: apiKey,
        WORKFLOW_LIVE_REPORT_DIR: dir
      })
      const output = `${ran.stdout}\n${ran.stderr}`
      expect(ran.code).not.toBe(0)
      // the lane's guard phase refuses before preflight or anything else runs
      expect(output).toMatch(/✗ guard .*refused \(unit-test-database\)/)
      expect(output).toContain("the lane did not start")
      expect(output).not.toMatch(/SKIPPED/i)
      // preflight never ran, so no preflight report is there (the earlier one removed); whatever the lane
      // wrote holds no secret either
      expect(existsSync(join(dir, "preflight.json"))).toBe(false)
      const written = ["report.json", "summary.md"].map((f) => join(dir, f)).filter(existsSync)
      expectNoSecrets(output, ...written.map((f) => readFileSync(f, "utf8")))
    }))

  it.scopedLive("an unknown policy value is itself an error", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "wl-preflight-lane-"))
      const ran = yield* lane({ WORKFLOW_LIVE_ON_MISSING: "skipp", WORKFLOW_LIVE_REPORT_DIR: dir })
      expect(ran.code).not.toBe(0)
      expect(`${ran.stdout}\n${ran.stderr}`).toContain("setting WORKFLOW_LIVE_ON_MISSING [invalid-policy]")
    }))
})

describe("workflow-live preflight and workflow-live run give one verdict for one environment", () => {
  const both = (env: Record<string, string>) =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "wl-verdict-"))
      const preflight = yield* runProcess("node", ["bin/workflow-live.js", "preflight"], { ...env, WORKFLOW_LIVE_REPORT_DIR: dir })
      mkdirSync(join(dir, "run"))
      const run = yield* runProcess(
        "node",
        ["bin/workflow-live.js", "run", "--report-dir", join(dir, "run"), "--", "--config", "test/support/lane/vitest.config.ts", "passing.live.ts"],
        env
      )
      const report = JSON.parse(readFileSync(join(dir, "run", "report.json"), "utf8")) as { outcome: string }
      return { preflight, run, outcome: report.outcome }
    })

  it.scopedLive("no DSN at all is a missing variable: under skip both skip (exit 0), under fail both fail", () =>
    Effect.gen(function*() {
      const skipped = yield* both({ WORKFLOW_LIVE_ON_MISSING: "skip" })
      expect(skipped.preflight.stdout).toContain("workflow-live preflight: SKIPPED")
      expect(skipped.preflight.code).toBe(0)
      expect(skipped.outcome).toBe("skipped")
      expect(skipped.run.code, skipped.run.stdout + skipped.run.stderr).toBe(0)
      expect(skipped.run.stdout).toContain("SKIPPED")

      const failed = yield* both({})
      expect(failed.preflight.stdout).toContain("workflow-live preflight: FAIL")
      expect(failed.preflight.code).toBe(1)
      expect(failed.outcome).toBe("failed")
      expect(failed.run.code).toBe(1)
      expect(`${failed.run.stdout}${failed.run.stderr}`).toContain("env TENDERBOT_WORKFLOW_DB_DSN [missing-variable]")
    }), 120_000)

  it.scopedLive("a database that cannot be reached fails both, even under skip", () =>
    Effect.gen(function*() {
      const unknownHost = yield* both({
        WORKFLOW_LIVE_ON_MISSING: "skip",
        TENDERBOT_WORKFLOW_DB_DSN: `postgres://postgres:${dsnPassword}@no-such-host.invalid:5432/tenderbot_workflow_test`
      })
      expect(unknownHost.preflight.stdout).toContain("workflow-live preflight: FAIL")
      expect(unknownHost.preflight.code).toBe(1)
      expect(`${unknownHost.preflight.stdout}${unknownHost.preflight.stderr}`).toContain("database server [unknown-host]")
      expect(unknownHost.outcome).toBe("failed")
      expect(unknownHost.run.code).toBe(1)
      expect(`${unknownHost.run.stdout}${unknownHost.run.stderr}`).toContain("[unknown-host]")
      expect(`${unknownHost.run.stdout}${unknownHost.run.stderr}`).not.toContain("SKIPPED")
      expectNoSecrets(unknownHost.preflight.stdout, unknownHost.preflight.stderr, unknownHost.run.stdout, unknownHost.run.stderr)
    }), 120_000)
})
