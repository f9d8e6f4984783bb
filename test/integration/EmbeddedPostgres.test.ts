// The throwaway server from npm: started from the cached initialised directory with durability off, run
// as root from a clone in a 0700 directory, a typed error (no stack, no hang) when its binaries are
// unusable, and nothing left behind when its owner is killed outright.
import { Cause, Effect, Exit, Option, Redacted } from "effect"
import { cp, mkdtemp, rm } from "node:fs/promises"
import { existsSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { describe, expect, it } from "vitest"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import { installedBinaries } from "../../src/internal/embeddedPostgresFiles.js"
import { alive, listening, start, waitFor } from "../support/processes.js"

const isRoot = process.getuid?.() === 0

/** Starts a server, runs `f` with a client on its `postgres` database, closes everything. */
const withServer = <A>(
  options: Parameters<typeof EmbeddedPostgres.make>[0],
  f: (server: EmbeddedPostgres.EmbeddedServer, client: pg.Client) => Promise<A>
): Promise<{ server: EmbeddedPostgres.EmbeddedServer; result: A }> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const server = yield* EmbeddedPostgres.make(options)
    const result = yield* Effect.promise(async () => {
      const client = new pg.Client({ connectionString: Redacted.value(server.dsn("postgres")) })
      await client.connect()
      try {
        return await f(server, client)
      } finally {
        await client.end()
      }
    })
    return { server, result }
  })))

const settings = (client: pg.Client) =>
  client.query<{ fsync: string; synchronous_commit: string; full_page_writes: string; user: string }>(
    `SELECT current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS synchronous_commit,
            current_setting('full_page_writes') AS full_page_writes, current_user AS user`
  ).then((r) => r.rows[0]!)

describe("the throwaway server", () => {
  it("starts from the cached initialised directory, durability off, and is gone when its scope closes", async () => {
    await withServer({ authMethod: "trust" }, async () => undefined) // makes sure the cache exists
    const started = performance.now()
    const { server, result } = await withServer({ authMethod: "trust" }, (_server, client) => settings(client))
    expect(server.initialised).toBe("cached")
    expect(result).toEqual({ fsync: "off", synchronous_commit: "off", full_page_writes: "off", user: "postgres" })
    expect(performance.now() - started).toBeLessThan(30_000)
    expect(existsSync(server.dir)).toBe(false)
    expect(await listening(server.port)).toBe(false)
  }, 90_000)

  it("demands its random password over TCP unless asked for trust", async () => {
    const { server, result } = await withServer({}, async (server, client) => {
      const wrong = new pg.Client({ host: server.host, port: server.port, user: "postgres", password: "wrong", database: "postgres" })
      const error = await wrong.connect().then(() => "connected", (e: Error) => e.message)
      await wrong.end().catch(() => undefined)
      return { error, user: (await settings(client)).user }
    })
    expect(result).toEqual({ error: expect.stringMatching(/password authentication failed/), user: "postgres" })
    expect(Redacted.value(server.dsn("x"))).toMatch(/^postgres:\/\/postgres:[0-9a-f]{24}@127\.0\.0\.1:\d+\/x$/)
  }, 90_000)

  it.runIf(isRoot)("as root, runs from a clone in a 0700 directory: the binaries are copied where postgres can reach them", async () => {
    const privateDir = await mkdtemp(join(tmpdir(), "wl-it-0700-"))
    try {
      const installed = await installedBinaries()
      const nativeDir = join(privateDir, "node_modules", "linux", "native")
      mkdirSync(join(privateDir, "node_modules", "linux"), { recursive: true })
      await cp(installed.nativeDir, nativeDir, { recursive: true, verbatimSymlinks: true })
      const { server, result } = await withServer({ authMethod: "trust", nativeDir }, (_server, client) => settings(client))
      expect(result.user).toBe("postgres")
      expect(server.binaries.copiedFrom).toBe(nativeDir)
      expect(server.binaries.nativeDir.startsWith(privateDir)).toBe(false)
      expect(existsSync(server.dir)).toBe(false)
    } finally {
      await rm(privateDir, { recursive: true, force: true })
    }
  }, 120_000)

  it("binaries that cannot run are one typed error naming the step and the fix, at once", async () => {
    const empty = await mkdtemp(join(tmpdir(), "wl-it-nobin-"))
    try {
      const started = performance.now()
      const exit = await Effect.runPromiseExit(Effect.scoped(EmbeddedPostgres.make({ nativeDir: empty })))
      expect(performance.now() - started).toBeLessThan(15_000)
      const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.isSome(failure)).toBe(true)
      const error = (failure as Option.Some<EmbeddedPostgres.EmbeddedPostgresError>).value
      expect(error).toBeInstanceOf(EmbeddedPostgres.EmbeddedPostgresError)
      expect(["files", "start"]).toContain(error.step)
      expect(error.message).toContain(empty)
      expect(error.message).toContain("Fix:")
      expect(error.message).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
    } finally {
      await rm(empty, { recursive: true, force: true })
    }
  }, 60_000)

  it("killed outright (SIGKILL, no finalizer runs), its owner leaves no server and no directory behind", async () => {
    const job = start(process.execPath, ["--import", "tsx", "test/support/embeddedHolder.ts"], process.env)
    await waitFor("the holder's line", () => job.output().includes("\"port\""), 60_000)
    const { dir, port, pid } = JSON.parse(job.output().slice(job.output().indexOf("{")).split("\n")[0]!) as {
      dir: string
      port: number
      pid: number
    }
    expect(existsSync(dir)).toBe(true)
    expect(await listening(port)).toBe(true)
    process.kill(job.child.pid!, "SIGKILL")
    await job.exited
    await waitFor("the watchdog to stop the server and remove its directory", async () =>
      !existsSync(dir) && !alive(pid) && !(await listening(port)), 20_000)
  }, 90_000)
})
