/** Runs the nested Vitest config (test/support/nested) in a subprocess and returns its JSON report. */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** One test of the nested run, as Vitest's JSON reporter describes it. */
export interface NestedTest {
  readonly fullName: string
  readonly status: "passed" | "failed" | "skipped" | "pending" | "todo"
  readonly failureMessages: ReadonlyArray<string>
  readonly duration: number | null
}

/** The outcome of a nested run. */
export interface NestedRun {
  readonly code: number | null
  readonly tests: ReadonlyArray<NestedTest>
  readonly output: string
}

/**
 * Runs `files` (paths under test/support/nested) with extra env and Vitest arguments (e.g. another
 * reporter, whose output lands in `output`); never throws on test failures.
 */
export const runNested = (
  files: ReadonlyArray<string>,
  env: Record<string, string>,
  args: ReadonlyArray<string> = []
): Promise<NestedRun> => {
  const dir = mkdtempSync(join(tmpdir(), "wl-nested-"))
  const outputFile = join(dir, "report.json")
  return new Promise((resolve, reject) => {
    const child = spawn(
      join(root, "node_modules/.bin/vitest"),
      ["run", "--config", "test/support/nested/vitest.config.ts", "--reporter=json", `--outputFile=${outputFile}`, ...args, ...files],
      { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      try {
        const report = JSON.parse(readFileSync(outputFile, "utf8")) as {
          testResults: ReadonlyArray<{ assertionResults: ReadonlyArray<NestedTest> }>
        }
        resolve({ code, tests: report.testResults.flatMap((file) => file.assertionResults), output })
      } catch (error) {
        reject(new Error(`nested run produced no report (exit ${code}):\n${output}`, { cause: error }))
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}
