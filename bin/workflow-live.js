#!/usr/bin/env node
// The CLI's start path. `--version` is answered from package.json before anything is imported. Anything
// else runs from an esbuild bundle of src/ in dist/, rebuilt when a source is newer (bundle.js): loading
// Effect's many modules one by one through a TypeScript loader costs ~2 s per start. The bundle is split:
// the entry holds the parser and the commands' definitions (enough for `--help`), each command's code is
// a chunk loaded when it runs. dist/ sits one level below the package root, like src/, so the paths the
// sources resolve from import.meta.url (migrations/, package.json) still hold.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import module from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

// the lane's report times its start from here (node's own start until now) and its bundle load after it
performance.mark("workflow-live/bin")
const root = join(dirname(fileURLToPath(import.meta.url)), "..")

const args = process.argv.slice(2)
if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(`${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}\n`)
  process.exit(0)
}

// Node >= 22.1 caches compiled code on disk itself. Before, only a CommonJS file compiled through vm.Script
// can use V8's code cache (compileCache.js)
const ownCache = typeof module.enableCompileCache !== "function"
if (!ownCache) module.enableCompileCache()

const entry = join(root, "dist", "workflow-live.mjs")
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((acc, e) => {
    const path = join(dir, e.name)
    return Math.max(acc, e.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)
const sources = () =>
  Math.max(newest(join(root, "src")), ...["package.json", "bin/bundle.js"].map((f) => statSync(join(root, f)).mtimeMs))

if (!existsSync(entry) || statSync(entry).mtimeMs < sources()) {
  const { rebuild } = await import("./bundle.js")
  try {
    await rebuild(root)
  } catch (e) {
    // a clone this user may read but not write (installed by another user, a read-only mount)
    if (!["EACCES", "EPERM", "EROFS"].includes(e?.code)) throw e
    const fix = `run \`node ${join(root, "bin", "workflow-live.js")} --help\` once as the clone's owner`
    if (!existsSync(entry)) {
      process.stderr.write(`workflow-live: cannot build its bundle in ${join(root, "dist")} (${e.code}).\n  Fix: ${fix}.\n`)
      process.exit(1)
    }
    process.stderr.write(`workflow-live: the sources changed but ${join(root, "dist")} is not writable (${e.code}); using the bundle there.\n  Fix: ${fix}.\n`)
  }
}
if (ownCache) {
  const { runWithCodeCache } = await import("./compileCache.js")
  runWithCodeCache(join(root, "dist", "workflow-live.cjs"), args[0])
} else {
  await import(pathToFileURL(entry).href)
}
