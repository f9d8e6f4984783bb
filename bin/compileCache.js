// V8's code cache for the CLI's CommonJS bundle on Node < 22.1, which has no `module.enableCompileCache`
// (and no cache for ES modules at all): compiling the bundle costs more than running `--help`. The cache sits
// beside the bundle, named by the bundle file's identity (inode, size, mtime: the build renames a new file in,
// never rewrites one), Node's version and the architecture, so a rebuilt bundle never meets an old cache (V8
// itself rejects a cache made under other flags, or for another source length: then it is rewritten).
// It is written once, at exit (with the functions that run compiled in it), to a file of this process's own,
// then renamed over (atomic): starts side by side read a whole cache or none. A directory this user may not
// write leaves the start without a cache, silently. Caches of earlier builds (of any bundle beside it) are
// removed when one is written. A CommonJS module (bin/package.json): an ES module entry costs Node's ESM
// loader on every start.
// Each command has its own cache: the one `reset` writes holds reset's code compiled, not only the parser's.
const { createHash } = require("node:crypto")
const { isAscii } = require("node:buffer")
const { closeSync, fstatSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require("node:fs")
const Module = require("node:module")
const { basename, dirname, join } = require("node:path")
const vm = require("node:vm")

const suffix = ".v8cache"

/** The key a bundle file's caches carry: its identity (see above) and this Node's, hashed. */
const keyOf = (stat) =>
  createHash("sha256").update(`${process.version} ${process.arch} ${stat.dev} ${stat.ino} ${stat.size} ${stat.mtimeNs}`)
    .digest("hex").slice(0, 16)

/** The key of the bundle file at `path` as it is now; undefined when it is gone. */
const currentKey = (path) => {
  const stat = statSync(path, { bigint: true, throwIfNoEntry: false })
  return stat === undefined ? undefined : keyOf(stat)
}

const save = (script, cacheFile, key) => {
  const tmp = `${cacheFile}.${process.pid}.tmp`
  try {
    writeFileSync(tmp, script.createCachedData())
    renameSync(tmp, cacheFile)
    // Caches of earlier builds go, of this file and of the other entries beside it (a build replaces them
    // all; a user who only ever runs one entry would otherwise keep the others' old caches): a cache stays
    // while its file's identity still gives its key
    const dir = dirname(cacheFile)
    const keys = new Map()
    for (const cache of readdirSync(dir)) {
      const parts = /^(.+)\.([0-9a-f]{16})\.[a-z][a-z-]*\.v8cache$/.exec(cache)
      if (parts === null) continue
      const [, bundle, cacheKey] = parts
      if (!keys.has(bundle)) keys.set(bundle, currentKey(join(dir, bundle)))
      if (cacheKey !== keys.get(bundle)) rmSync(join(dir, cache), { force: true })
    }
  } catch {
    // no cache this time (a directory not writable, a full disk): the next start compiles again; this runs
    // at exit, where a throw would print a stack
    try {
      rmSync(tmp, { force: true })
    } catch {
      // nothing was written, or nothing can be removed
    }
  }
}

/** Runs the CommonJS file `file` as the main program, with V8's code cache for `command` kept beside it. */
exports.runWithCodeCache = (file, command) => {
  // the text and its identity from one descriptor: a bundle renamed in meanwhile cannot mix with the old one
  const fd = openSync(file, "r")
  let bytes, stat
  try {
    stat = fstatSync(fd, { bigint: true })
    bytes = readFileSync(fd)
  } finally {
    closeSync(fd)
  }
  // esbuild writes ASCII: decoding it as Latin-1 skips UTF-8's validation of 4 MB (~10 ms)
  const source = bytes.toString(isAscii(bytes) ? "latin1" : "utf8")
  const key = keyOf(stat)
  const stem = `${basename(file)}.${key}`
  const name = /^[a-z][a-z-]{0,19}$/.test(command ?? "") ? command : "other"
  const cacheFile = join(dirname(file), `${stem}.${name}${suffix}`)
  let cachedData
  try {
    cachedData = readFileSync(cacheFile)
  } catch {
    cachedData = undefined
  }
  // the bundle's `import()` calls are calls of the wrapper's last parameter (bundle.js): an ES module's own
  // `import()`, since one inside a vm.Script compiled from a cache finds no loader on Node 20
  const wrapped = `(function (exports, require, module, __filename, __dirname, __workflowLiveImport) {${source}\n})`
  const script = new vm.Script(wrapped, { filename: file, cachedData })
  if (cachedData === undefined || script.cachedDataRejected) process.once("exit", () => save(script, cacheFile, key))
  const module = new Module(file)
  module.filename = file
  module.paths = Module._nodeModulePaths(dirname(file))
  const requireHere = Module.createRequire(file)
  const load = (specifier) => import(specifier)
  script.runInThisContext().call(module.exports, module.exports, requireHere, module, file, dirname(file), load)
}
