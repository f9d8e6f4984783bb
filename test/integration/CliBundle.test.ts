// How the CLI starts: `--version` from package.json with nothing else loaded; a clone without dist/ builds
// the bundle on its first start, and starts side by side neither fail nor import a half-written bundle.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { pathToFileURL } from "node:url"
import * as HttpRecorder from "../../src/HttpRecorder.js"
import { prebuiltRecorder } from "../../src/vitest/prebuiltRecorder.js"
import * as Cli from "../support/cli.js"

const version = (JSON.parse(readFileSync(join(Cli.root, "package.json"), "utf8")) as { version: string }).version

describe("workflow-live --version", () => {
  it("prints the package's version and nothing else", async () => {
    const outcome = await Cli.workflowLive(["--version"])
    expect(outcome.code, outcome.output).toBe(0)
    expect(outcome.stdout).toBe(`${version}\n`)
    expect(outcome.stderr).toBe("")
  })
})

describe("a clone without dist/", () => {
  const clone = mkdtempSync(join(tmpdir(), "wl-it-clone-"))
  afterAll(() => rmSync(clone, { recursive: true, force: true }))
  for (const path of ["bin", "src", "migrations", "package.json"]) cpSync(join(Cli.root, path), join(clone, path), { recursive: true })
  symlinkSync(join(Cli.root, "node_modules"), join(clone, "node_modules"))

  it("builds the bundle once started, three starts side by side all answering in full", async () => {
    const outcomes = await Promise.all(
      [["--help"], ["run", "--help"], ["target"]].map((args) =>
        Cli.run(process.execPath, [join(clone, "bin", "workflow-live.js"), ...args], {
          env: { TENDERBOT_WORKFLOW_DB_DSN: "postgres://postgres@127.0.0.1:1/tenderbot_workflow_test" }
        })
      )
    )
    const [help, runHelp, target] = outcomes
    expect(help!.code, help!.output).toBe(0)
    expect(help!.stdout).toContain("ENVIRONMENT")
    expect(runHelp!.code, runHelp!.output).toBe(0)
    expect(runHelp!.stdout).toContain("--report-dir")
    // the guard's verdict comes from the target command's own chunk
    expect(target!.code, target!.output).toBe(0)
    expect(target!.stdout).toContain("workflow-live target: ACCEPTED")
    const dist = readdirSync(join(clone, "dist"))
    expect(dist).toContain("workflow-live.mjs")
    expect(dist.filter((f) => f.startsWith(".build-"))).toEqual([])
    // the live workers' recorder, prebuilt with it: fresh, and the module the sources make
    const prebuilt = prebuiltRecorder(pathToFileURL(`${clone}/`))
    expect(prebuilt?.href).toBe(pathToFileURL(join(clone, "dist", "node_modules", "recorder", "recorder.mjs")).href)
    const recorder = await import(prebuilt!.href) as typeof HttpRecorder
    expect(recorder.provideKey).toBe(HttpRecorder.provideKey)
    expect(typeof recorder.install).toBe("function")
  })
})
