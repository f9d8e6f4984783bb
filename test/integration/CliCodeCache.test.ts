// V8's code cache of the CLI's CommonJS bundles (bin/compileCache.js, Node < 22.1), run in real processes:
// one cache per bundle file and command, an old build's caches removed, another entry's kept.
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs"
import module from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../..", import.meta.url))

describe("bin/compileCache.js", () => {
  let dir: string | undefined
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  const run = (file: string, command: string) => {
    const script = `require(${JSON.stringify(join(root, "bin", "compileCache.js"))}).runWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(command)})`
    const ran = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" })
    expect(ran.status, ran.stderr).toBe(0)
    return ran.stdout
  }
  const caches = () => readdirSync(dir!).filter((f) => f.endsWith(".v8cache")).sort()

  it("keeps one cache per bundle file and command; a rebuilt file's old caches go, another file's stay", () => {
    dir = mkdtempSync(join(tmpdir(), "wl-code-cache-"))
    const a = join(dir, "workflow-live.cjs")
    const b = join(dir, "reset.cjs")
    writeFileSync(a, "process.stdout.write('a ' + typeof __workflowLiveImport)")
    writeFileSync(b, "process.stdout.write('b')")
    expect(run(a, "target")).toBe("a function")
    expect(run(b, "reset")).toBe("b")
    expect(run(a, "reset")).toBe("a function")
    expect(caches().map((f) => f.replace(/\.[0-9a-f]{16}\./, ".KEY."))).toEqual([
      "reset.cjs.KEY.reset.v8cache",
      "workflow-live.cjs.KEY.reset.v8cache",
      "workflow-live.cjs.KEY.target.v8cache"
    ])
    // a build renames a new file in: a new identity, so a new cache; the old file's caches are removed
    writeFileSync(`${a}.new`, "process.stdout.write('a2')")
    renameSync(`${a}.new`, a)
    expect(run(a, "target")).toBe("a2")
    const after = caches()
    expect(after.filter((f) => f.startsWith("workflow-live.cjs."))).toHaveLength(1)
    expect(after.filter((f) => f.startsWith("reset.cjs."))).toHaveLength(1)
    // another entry rebuilt: its old cache goes when any cache is next written, not only its own
    writeFileSync(`${b}.new`, "process.stdout.write('b2')")
    renameSync(`${b}.new`, b)
    expect(run(a, "preflight")).toBe("a2")
    expect(caches().filter((f) => f.startsWith("reset.cjs."))).toEqual([])
    expect(caches().filter((f) => f.startsWith("workflow-live.cjs."))).toHaveLength(2)
  })

  it("gives the reset's detached deferred work a cache of its own: the swap's code stays in the reset's", () => {
    const dist = join(root, "dist")
    const deferredCaches = () =>
      existsSync(dist) ? readdirSync(dist).filter((f) => f.startsWith("reset.cjs.") && f.endsWith(".reset-deferred.v8cache")) : []
    for (const f of deferredCaches()) rmSync(join(dist, f), { force: true })
    // refused by the guard before any connection: only the start path and the cache are exercised
    const ran = spawnSync(process.execPath, [join(root, "bin", "workflow-live.js"), "reset"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, WORKFLOW_LIVE_RESET_DEFERRED: "1", TENDERBOT_WORKFLOW_DB_DSN: "postgres://postgres@127.0.0.1:1/tenderbot" }
    })
    expect(ran.status, ran.stderr).toBe(1)
    expect(ran.stderr).toContain("tenderbot")
    // Node >= 22.1 caches compiled code itself (module.enableCompileCache): no file of ours then
    const ownCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache !== "function"
    expect(deferredCaches()).toHaveLength(ownCache ? 1 : 0)
  })
})
