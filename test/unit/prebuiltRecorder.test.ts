// A live worker uses the HTTP recorder the CLI's build prebuilt only when that build is as new as every
// source it was made from; anything else (none, stale, a source gone, a broken manifest) means the sources.
// The build itself: one entry that loads no package eagerly but what the sources import at their top.
import { build } from "esbuild"
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, describe, expect, it } from "vitest"
import { recorderBuildOptions, recorderDir, recorderManifest } from "../../bin/bundle.mjs"
import { prebuiltRecorder } from "../../src/vitest/prebuiltRecorder.js"

const dirs: Array<string> = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

/** A package root with two sources written at `sourcesAt` and, unless `manifest` is null, a prebuilt recorder. */
const packageRoot = (sourcesAt: number, manifest: unknown) => {
  const dir = mkdtempSync(join(tmpdir(), "wl-prebuilt-"))
  dirs.push(dir)
  mkdirSync(join(dir, "src", "internal"), { recursive: true })
  for (const file of ["src/HttpRecorder.ts", "src/internal/cassette.ts"]) {
    writeFileSync(join(dir, file), "export {}\n")
    utimesSync(join(dir, file), sourcesAt / 1000, sourcesAt / 1000)
  }
  const recorder = join(dir, "dist", recorderDir)
  mkdirSync(recorder, { recursive: true })
  writeFileSync(join(recorder, "recorder.mjs"), "export {}\n")
  if (manifest !== null) writeFileSync(join(recorder, recorderManifest), typeof manifest === "string" ? manifest : JSON.stringify(manifest))
  return pathToFileURL(`${dir}/`)
}

const inputs = ["src/HttpRecorder.ts", "src/internal/cassette.ts"]
const at = Date.parse("2026-11-26T10:00:00Z")

describe("prebuiltRecorder", () => {
  it("is used when the build is as new as every source it was made from", () => {
    const root = packageRoot(at, { builtAt: at, inputs })
    expect(prebuiltRecorder(root)?.href).toBe(new URL(`dist/${recorderDir}/recorder.mjs`, root).href)
  })

  it("is not used when a source is newer than the build, or gone", () => {
    expect(prebuiltRecorder(packageRoot(at + 1000, { builtAt: at, inputs }))).toBeUndefined()
    expect(prebuiltRecorder(packageRoot(at, { builtAt: at, inputs: [...inputs, "src/gone.ts"] }))).toBeUndefined()
  })

  it("is not used without a manifest, with a broken one, or one that names no source", () => {
    expect(prebuiltRecorder(packageRoot(at, null))).toBeUndefined()
    expect(prebuiltRecorder(packageRoot(at, "{ not json"))).toBeUndefined()
    expect(prebuiltRecorder(packageRoot(at, { builtAt: at, inputs: [] }))).toBeUndefined()
  })
})

describe("the recorder's build", () => {
  it("is one entry whose packages stay imports, with the cassette store (and its undici) a chunk loaded later", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url))
    const out = mkdtempSync(join(tmpdir(), "wl-recorder-build-"))
    dirs.push(out)
    const result = await build({ ...recorderBuildOptions(root, out), metafile: true, write: false })
    const outputs = Object.entries(result.metafile!.outputs)
    const entry = outputs.find(([, o]) => o.entryPoint === "src/HttpRecorder.ts")
    expect(entry?.[0]).toMatch(new RegExp(`${recorderDir.replace("/", "\\/")}\\/recorder\\.mjs$`))
    expect(Object.keys(result.metafile!.inputs)).toEqual(expect.arrayContaining(["src/HttpRecorder.ts", "src/internal/fileRecorder.ts"]))
    expect(Object.keys(result.metafile!.inputs).every((i) => i.startsWith("src/"))).toBe(true)
    // what loads when the entry (and the chunks it imports statically) is imported: no undici, one effect
    const eager = new Set<string>()
    const queue = [entry![0]]
    while (queue.length > 0) {
      const path = queue.pop()!
      for (const i of result.metafile!.outputs[path]!.imports) {
        if (i.kind !== "import-statement") continue
        if (i.external) eager.add(i.path)
        else queue.push(i.path)
      }
    }
    expect([...eager].filter((p) => !p.startsWith("node:")).sort()).toEqual(["effect"])
  })
})
