// The CLI's start path (what `workflow-live --help` and every command load before their own code) holds
// the parser and the commands' definitions only: database, Vitest and HTTP code load with the command
// that runs (src/cli/lazy.ts). A subcommand registered with its handler imported eagerly fails here.
import { build, type Metafile } from "esbuild"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { buildOptions } from "../../bin/bundle.mjs"

const root = fileURLToPath(new URL("../..", import.meta.url))

const staticClosure = (metafile: Metafile, entry: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const queue = [entry]
  while (queue.length > 0) {
    const output = queue.pop()!
    if (seen.has(output)) continue
    seen.add(output)
    for (const i of metafile.outputs[output]!.imports) if (i.kind === "import-statement" && !i.external) queue.push(i.path)
  }
  return [...seen].flatMap((output) => Object.keys(metafile.outputs[output]!.inputs))
}

describe("the CLI bundle", () => {
  it("loads no command's code, database driver, HTTP client or Vitest before a command runs", async () => {
    const result = await build({ ...buildOptions(root, "/nonexistent-out"), write: false, metafile: true, logLevel: "silent" })
    const entry = Object.keys(result.metafile.outputs).find((o) => o.endsWith("workflow-live.mjs"))!
    const inputs = staticClosure(result.metafile, entry)
    const sources = inputs.filter((i) => i.startsWith("src/"))
    // the parser, the definitions, and the leaf helpers main.ts renders errors and exit codes with
    expect(sources.filter((s) => !/^src\/(cli\/[a-z]+|internal\/(render|terminal|signals|exitCode))\.ts$/.test(s))).toEqual([])
    expect(sources).toContain("src/cli/run.ts")
    const packages = inputs.filter((i) => /node_modules\/(pg|pg-[a-z]+|@effect\/sql[a-z-]*|undici|vitest|yaml|toml)\//.test(i))
    expect(packages).toEqual([])
    // every handler is a chunk of its own, loaded by the command
    const dynamic = result.metafile.outputs[entry]!.imports.filter((i) => i.kind === "dynamic-import")
    expect(dynamic.length).toBeGreaterThanOrEqual(5)
  })
})

describe("the bare `reset` entry", () => {
  it("holds the reset and the process rules, not the parser, the other commands, Vitest or HTTP", async () => {
    const result = await build({ ...buildOptions(root, "/nonexistent-out"), write: false, metafile: true, logLevel: "silent" })
    const entry = Object.keys(result.metafile.outputs).find((o) => o.endsWith("/reset.mjs"))!
    const inputs = staticClosure(result.metafile, entry)
    expect(inputs).toContain("src/cli/handlers/reset.ts")
    expect(inputs).toContain("src/cli/process.ts")
    expect(inputs.filter((i) => /node_modules\/(@effect\/cli|@effect\/printer[a-z-]*|undici|vitest)\//.test(i))).toEqual([])
    expect(inputs.filter((i) => /^src\/cli\/(main|run|demo|preflight|prune|target)\.ts$/.test(i))).toEqual([])
  })
})
