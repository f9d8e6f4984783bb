#!/usr/bin/env node
// The CLI's start path. `--version` is answered from package.json before anything is imported. Anything
// else runs from an esbuild bundle of src/ in dist/, rebuilt when a source is newer (bundle.mjs): loading
// Effect's many modules one by one through a TypeScript loader costs ~2 s per start. The bundle is split:
// the entry holds the parser and the commands' definitions (enough for `--help`), each command's code is
// a chunk loaded when it runs. A bare `workflow-live reset` runs an entry of its own (src/cli/resetMain.ts),
// without the parser. dist/ sits one level below the package root, like src/, so the paths the sources
// resolve from import.meta.url (migrations/, package.json) still hold. This file and compileCache.js are
// CommonJS (bin/package.json): an ES module here would start Node's ESM loader on every run (~4 ms).
"use strict"
const { existsSync, readdirSync, readFileSync, statSync } = require("node:fs")
const module_ = require("node:module")
const { join } = require("node:path")
const { pathToFileURL } = require("node:url")

// the lane's report times its start from here (node's own start until now) and its bundle load after it
performance.mark("workflow-live/bin")
const root = join(__dirname, "..")

const args = process.argv.slice(2)
if (args.length === 1 && args[0] === "--version") {
  process.stdout.write(`${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}\n`)
  process.exit(0)
}

// Node >= 22.1 caches compiled code on disk itself. Before, only a CommonJS file compiled through vm.Script
// can use V8's code cache (compileCache.js)
const ownCache = typeof module_.enableCompileCache !== "function"
if (!ownCache) module_.enableCompileCache()

const dist = join(root, "dist")
// the ESM entry is moved in last by a build: its time says when the whole bundle was built
const marker = join(dist, "workflow-live.mjs")
const entry = args.length === 1 && args[0] === "reset" ? "reset" : "workflow-live"

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((acc, e) => {
    const path = join(dir, e.name)
    return Math.max(acc, e.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)
const sources = () =>
  Math.max(newest(join(root, "src")), ...["package.json", "bin/bundle.mjs"].map((f) => statSync(join(root, f)).mtimeMs))

const build = async () => {
  const { rebuild } = await import("./bundle.mjs")
  try {
    await rebuild(root)
  } catch (e) {
    // a clone this user may read but not write (installed by another user, a read-only mount)
    if (!["EACCES", "EPERM", "EROFS"].includes(e?.code)) throw e
    const fix = `run \`node ${join(root, "bin", "workflow-live.js")} --help\` once as the clone's owner`
    if (!existsSync(marker)) {
      process.stderr.write(`workflow-live: cannot build its bundle in ${dist} (${e.code}).\n  Fix: ${fix}.\n`)
      process.exit(1)
    }
    process.stderr.write(`workflow-live: the sources changed but ${dist} is not writable (${e.code}); using the bundle there.\n  Fix: ${fix}.\n`)
  }
}

// The cache holds what a command compiled: the reset's detached deferred work (handlers/reset.ts sets the
// variable) runs other code, and, writing the same cache last, left the swap's code out of it (~8 ms a reset)
const cacheName = entry === "reset" && process.env.WORKFLOW_LIVE_RESET_DEFERRED === "1" ? "reset-deferred" : args[0]

const start = () => {
  const file = (name) => join(dist, `${name}${ownCache ? ".cjs" : ".mjs"}`)
  // a dist/ built before the reset had an entry of its own, that this user may not rebuild: the full CLI
  const path = existsSync(file(entry)) ? file(entry) : file("workflow-live")
  if (ownCache) require("./compileCache.js").runWithCodeCache(path, cacheName)
  else return import(pathToFileURL(path).href)
}

if (!existsSync(marker) || statSync(marker).mtimeMs < sources()) {
  // as an uncaught error at the top level of a module would: its stack on stderr, exit 1
  build().then(start).catch((e) => process.nextTick(() => { throw e }))
} else {
  start()
}
