import { describe, expect, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Option, Redacted } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type AddressInfo, createServer, type Server, type Socket } from "node:net"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import * as Preflight from "../../src/Preflight.js"
import * as HttpServer from "../support/httpServer.js"
import { withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

// Database names of this file only (integration files run in parallel with each other).
const database = "wl_it_preflight"
const existing = "wl_it_preflight_exists"
const weakRole = "wl_it_preflight_nocreatedb"
const createdbRole = "wl_it_preflight_createdb"

const apiKey = "sk-live-Xq7TopSecretKey"
const dsnPassword = TestDatabase.secret
const dsnFor = (name: string, user = TestDatabase.server.user): string => TestDatabase.url(name, { user, password: dsnPassword })

/** Runs `statement` as the test server's superuser on its `postgres` database. */
const admin = (statement: string): Effect.Effect<void> =>
  Effect.promise(() => withClient("postgres", (client) => client.query(statement))).pipe(Effect.asVoid)


/** No secret may reach a rendered table, a JSON report or an error message. */
const expectNoSecrets = (...texts: ReadonlyArray<string>): void => {
  for (const text of texts) {
    expect(text).not.toContain(apiKey)
    expect(text).not.toContain(dsnPassword)
  }
}

const redacted = (value: string): Option.Option<Redacted.Redacted<string>> => Option.some(Redacted.make(value))

const failureOf = <A>(exit: Exit.Exit<A, unknown>): Preflight.PreflightError => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  if (Option.isNone(failure) || !(failure.value instanceof Preflight.PreflightError)) {
    throw new Error(`expected a PreflightError, got ${String(exit)}`)
  }
  return failure.value
}

/** A port that accepts TCP connections and never says a word (a PostgreSQL that hangs, a firewall that tarpits). */
const silentPort = Effect.acquireRelease(
  Effect.async<{ server: Server; sockets: Array<Socket> }>((resume) => {
    const sockets: Array<Socket> = []
    const server = createServer((socket) => sockets.push(socket))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
  }),
  ({ server, sockets }) => Effect.async<void>((resume) => {
    sockets.forEach((socket) => socket.destroy())
    server.close(() => resume(Effect.void))
  })
).pipe(Effect.map(({ server }) => (server.address() as AddressInfo).port))

/** A port whose "server" answers every startup with `FATAL 57P03 the database system is starting up`. */
const startingUp = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const fields = Buffer.from("SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0", "utf8")
    const head = Buffer.alloc(5)
    head.write("E", 0)
    head.writeInt32BE(fields.length + 4, 1)
    const server = createServer((socket) => {
      socket.once("data", () => socket.end(Buffer.concat([head, fields])))
      socket.on("error", () => {})
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as AddressInfo).port))

const reportDir = mkdtempSync(join(tmpdir(), "wl-preflight-"))

const run = (
  env: Record<string, string>,
  options: Preflight.Options = {}
): Effect.Effect<Preflight.Report, unknown> =>
  Preflight.check({ guard: { database }, reportDir, ...options }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

const row = (report: Preflight.Report, check: string): Preflight.Row => {
  const found = report.rows.find((r) => r.check === check)
  if (found === undefined) throw new Error(`no row ${check} in:\n${Preflight.render(report, { colour: false })}`)
  return found
}

/** Everything rendered or written for a report, for the secret checks. */
const outputs = (report: Preflight.Report): ReadonlyArray<string> => [
  Preflight.render(report, { colour: false }),
  Preflight.render(report, { colour: true }),
  report.file === undefined ? "" : readFileSync(report.file, "utf8"),
  new Preflight.PreflightError({ reason: "checks-failed", report }).message
]

/** Stand-ins for the two APIs that accept the key; returns the env that points at them. */
const healthyApis = Effect.gen(function*() {
  const llm = yield* HttpServer.scoped({ requireHeader: { name: "authorization", value: `Bearer ${apiKey}` } })
  const tenders = yield* HttpServer.scoped()
  const env = {
    TENDERBOT_WORKFLOW_DB_DSN: dsnFor(database),
    TENDERBOT_LLM_BASE_URL: `${llm.url}/v1/`,
    TENDERBOT_LLM_API_KEY: apiKey,
    TENDERBOT_TENDERS_API_URL: tenders.url
  }
  return { llm, tenders, env }
})

describe("Preflight", () => {
  it.scopedLive("passes every check when everything is there, and probes the APIs as documented", () =>
    Effect.gen(function*() {
      const { env, llm, tenders } = yield* healthyApis
      const report = yield* run(env)
      expect(report.rows.filter((r) => r.status !== "pass")).toEqual([])
      expect(report.verdict).toBe("pass")
      expect(report.rows.map((r) => r.check)).toEqual([
        "setting WORKFLOW_LIVE_ON_MISSING",
        "env TENDERBOT_WORKFLOW_DB_DSN",
        "env TENDERBOT_LLM_BASE_URL",
        "env TENDERBOT_LLM_API_KEY",
        "env TENDERBOT_TENDERS_API_URL",
        "database guard",
        "database server",
        "database CREATEDB",
        "database connections",
        "database identity",
        "http llm",
        "http tenders"
      ])
      expect(llm.received.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v1/models"])
      expect(llm.received[0]!.headers["authorization"]).toBe(`Bearer ${apiKey}`)
      expect(tenders.received.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /"])
      expect(row(report, "env TENDERBOT_LLM_API_KEY").found).toBe(`set (${apiKey.length} characters, hidden)`)
      expect(row(report, "database guard").found).toContain(`postgres://${TestDatabase.server.user}:*****@${TestDatabase.address}/wl_it_preflight`)
      expect(row(report, "database identity").found).toContain("does not exist yet")
      const json = JSON.parse(readFileSync(report.file!, "utf8")) as Preflight.Report
      expect(json.rows).toEqual(report.rows)
      expect(Preflight.render(report, { colour: false })).toContain(`Report (JSON): ${report.file}`)
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("names a missing variable, and does not probe the API that needs it", () =>
    Effect.gen(function*() {
      const { env, llm } = yield* healthyApis
      const { TENDERBOT_LLM_API_KEY: _, ...withoutKey } = env
      const exit = yield* Effect.exit(Preflight.make({ guard: { database }, reportDir }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(withoutKey))))
      ))
      const error = failureOf(exit)
      const report = error.report
      expect(row(report, "env TENDERBOT_LLM_API_KEY")).toMatchObject({ status: "fail", reason: "missing-variable" })
      expect(row(report, "http llm")).toMatchObject({ status: "skipped", reason: "not-checked" })
      expect(llm.received).toEqual([])
      expect(error.message).toContain("env TENDERBOT_LLM_API_KEY [missing-variable]")
      expect(error.message).toContain("export TENDERBOT_LLM_API_KEY=")
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("the DSN variable unset while TENDERBOT_DB_DSN is set: one failed row, which says why it is not borrowed", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const { TENDERBOT_WORKFLOW_DB_DSN: _, ...withoutDsn } = env
      const report = yield* run({ ...withoutDsn, TENDERBOT_DB_DSN: TestDatabase.url("tenderbot", { password: dsnPassword }) })
      expect(row(report, "env TENDERBOT_WORKFLOW_DB_DSN")).toMatchObject({ status: "fail", reason: "missing-variable" })
      expect(row(report, "env TENDERBOT_WORKFLOW_DB_DSN").found).toMatch(/^not set: TENDERBOT_DB_DSN is set, but the lane never borrows it/)
      expect(row(report, "database guard")).toMatchObject({ status: "skipped", reason: "not-checked" })
      expect(report.rows.filter((r) => r.status === "fail")).toHaveLength(1)
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("rejects a malformed URL with what is wrong with it", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const report = yield* run({ ...env, TENDERBOT_TENDERS_API_URL: "tenders.example.com:8080/api" })
      expect(row(report, "env TENDERBOT_TENDERS_API_URL")).toMatchObject({
        status: "fail",
        reason: "malformed-variable",
        skippable: false
      })
      expect(row(report, "env TENDERBOT_TENDERS_API_URL").found).toContain("expected http:// or https://")
      expect(row(report, "http tenders").found).toContain("malformed")
      expect(report.verdict).toBe("fail")
    }))

  it.scopedLive("tells apart nothing listening, a timeout, 401, 403, 500, another status, TLS and DNS", () =>
    Effect.gen(function*() {
      const closed = yield* Effect.promise(() => HttpServer.freePort())
      const slow = yield* HttpServer.scoped({ delayMs: 3_000 })
      const s401 = yield* HttpServer.scoped({ requireHeader: { name: "authorization", value: "Bearer other" } })
      const s403 = yield* HttpServer.scoped({ status: 403 })
      const s500 = yield* HttpServer.scoped({ status: 500 })
      const s404 = yield* HttpServer.scoped({ status: 404 })
      const plain = yield* HttpServer.scoped()
      const deps: ReadonlyArray<[string, string, Partial<Preflight.HttpRequirement>]> = [
        ["closed", `http://127.0.0.1:${closed}`, {}],
        ["slow", slow.url, { timeout: 300 }],
        ["s401", s401.url, { auth: { variable: "TENDERBOT_LLM_API_KEY" } }],
        ["s403", s403.url, {}],
        ["s500", s500.url, {}],
        ["s404", s404.url, {}],
        ["tls", plain.url.replace("http:", "https:"), {}],
        ["dns", "http://no-such-host.invalid", { timeout: 8_000 }]
      ]
      const spec: Preflight.Spec = {
        env: [],
        http: deps.map(([name, , extra]) => ({ name, urlVariable: `API_${name.toUpperCase()}`, ...extra })),
        database: undefined
      }
      const env = Object.fromEntries([
        ...deps.map(([name, url]) => [`API_${name.toUpperCase()}`, url]),
        ["TENDERBOT_LLM_API_KEY", apiKey]
      ])
      const report = yield* run(env, { spec })
      const reasons = Object.fromEntries(report.rows.filter((r) => r.kind === "http").map((r) => [r.check, r.reason]))
      expect(reasons).toEqual({
        "http closed": "not-listening",
        "http slow": "timeout",
        "http s401": "unauthorized",
        "http s403": "unauthorized",
        "http s500": "server-error",
        "http s404": "unexpected-status",
        "http tls": "tls",
        "http dns": "unknown-host"
      })
      // the slow one was cut at its own timeout, not after the server's 3 s
      expect(row(report, "http slow").durationMs).toBeLessThan(2_000)
      expect(row(report, "http slow").found).toContain("did not answer within 0.3 s")
      // every failure is in the one report, each with its fix
      expect(report.rows.filter((r) => r.status === "fail")).toHaveLength(8)
      for (const r of report.rows.filter((r) => r.status === "fail")) expect(r.fix ?? "").not.toBe("")
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("lists several failures of different kinds in one report and one error", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const closed = yield* Effect.promise(() => HttpServer.freePort())
      const { TENDERBOT_LLM_API_KEY: _, ...rest } = env
      const exit = yield* Effect.exit(Preflight.make({ guard: { database }, reportDir }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({
          ...rest,
          TENDERBOT_WORKFLOW_DB_DSN: dsnFor("tenderbot_test"),
          TENDERBOT_TENDERS_API_URL: `http://127.0.0.1:${closed}`,
          WORKFLOW_LIVE_ON_MISSING: "sometimes"
        }))))
      ))
      const error = failureOf(exit)
      const failed = error.report.rows.filter((r) => r.status === "fail").map((r) => `${r.check}: ${r.reason}`)
      expect(failed).toEqual([
        "setting WORKFLOW_LIVE_ON_MISSING: invalid-policy",
        "env TENDERBOT_LLM_API_KEY: missing-variable",
        "database guard: guard-refused",
        "http tenders: not-listening"
      ])
      for (const check of ["WORKFLOW_LIVE_ON_MISSING", "TENDERBOT_LLM_API_KEY", "database guard", "http tenders"]) {
        expect(error.message).toContain(check)
      }
      expectNoSecrets(...outputs(error.report))
    }))

  it.scopedLive("skip policy: missing variables and unreachable APIs skip the lane, with the reason", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const closed = yield* Effect.promise(() => HttpServer.freePort())
      const { TENDERBOT_LLM_API_KEY: _, ...rest } = env
      const report = yield* Preflight.make({ guard: { database }, reportDir }).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({
          ...rest,
          TENDERBOT_TENDERS_API_URL: `http://127.0.0.1:${closed}`,
          WORKFLOW_LIVE_ON_MISSING: "skip"
        }))))
      )
      expect(report.verdict).toBe("skip")
      expect(report.policy).toBe("skip")
      expect(row(report, "env TENDERBOT_LLM_API_KEY")).toMatchObject({ status: "skipped", reason: "missing-variable" })
      expect(row(report, "http tenders")).toMatchObject({ status: "skipped", reason: "not-listening" })
      expect(report.skipReason).toContain("TENDERBOT_LLM_API_KEY")
      expect(report.skipReason).toContain("http tenders")
      expect(Preflight.render(report, { colour: false })).toContain("The lane is SKIPPED")
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("skip policy never skips a guard refusal, bad credentials or a database problem", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const refused = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsnFor("tenderbot"), WORKFLOW_LIVE_ON_MISSING: "skip" })
      expect(refused.verdict).toBe("fail")
      expect(row(refused, "database guard")).toMatchObject({ status: "fail", reason: "guard-refused", skippable: false })

      const wrongKey = yield* run({ ...env, TENDERBOT_LLM_API_KEY: "sk-wrong", WORKFLOW_LIVE_ON_MISSING: "skip" })
      expect(row(wrongKey, "http llm")).toMatchObject({ status: "fail", reason: "unauthorized" })
      expect(wrongKey.verdict).toBe("fail")

      const closed = yield* Effect.promise(() => HttpServer.freePort())
      const noServer = yield* run({
        ...env,
        TENDERBOT_WORKFLOW_DB_DSN: `postgres://${TestDatabase.server.user}:${dsnPassword}@127.0.0.1:${closed}/${database}`,
        WORKFLOW_LIVE_ON_MISSING: "skip"
      })
      expect(row(noServer, "database server")).toMatchObject({ status: "fail", reason: "connection-refused" })
      expect(row(noServer, "database CREATEDB")).toMatchObject({ status: "skipped", reason: "not-checked" })
      expect(noServer.verdict).toBe("fail")
      expectNoSecrets(...outputs(refused), ...outputs(wrongKey), ...outputs(noServer))
    }))

  it.scopedLive("skip policy: an unknown database host or a port that never answers fails, it is never skipped", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const silent = yield* silentPort
      const spec = Preflight.extend(Preflight.defaultSpec, { database: { timeout: "1 second" } })
      const unknownHost = yield* run({
        ...env,
        TENDERBOT_WORKFLOW_DB_DSN: `postgres://${TestDatabase.server.user}:${dsnPassword}@no-such-host.invalid:5432/${database}`,
        WORKFLOW_LIVE_ON_MISSING: "skip"
      }, { spec })
      expect(row(unknownHost, "database server")).toMatchObject({ status: "fail", reason: "unknown-host", skippable: false })
      expect(unknownHost.verdict).toBe("fail")
      const neverAnswers = yield* run({
        ...env,
        TENDERBOT_WORKFLOW_DB_DSN: `postgres://${TestDatabase.server.user}:${dsnPassword}@127.0.0.1:${silent}/${database}`,
        WORKFLOW_LIVE_ON_MISSING: "skip"
      }, { spec })
      expect(row(neverAnswers, "database server")).toMatchObject({ status: "fail", reason: "timeout", skippable: false })
      expect(neverAnswers.verdict).toBe("fail")
      expect(neverAnswers.skipReason).toBeUndefined()
      expectNoSecrets(...outputs(unknownHost), ...outputs(neverAnswers))
    }))

  it.scopedLive("a server that is starting up fails with server-unavailable and a real fix, even under skip", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const port = yield* startingUp
      const report = yield* run({
        ...env,
        TENDERBOT_WORKFLOW_DB_DSN: `postgres://${TestDatabase.server.user}:${dsnPassword}@127.0.0.1:${port}/${database}`,
        WORKFLOW_LIVE_ON_MISSING: "skip"
      })
      expect(row(report, "database server")).toMatchObject({ status: "fail", reason: "server-unavailable", skippable: false })
      expect(row(report, "database server").fix).toContain(`pg_isready -h 127.0.0.1 -p ${port}`)
      expect(report.verdict).toBe("fail")
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("counts free connections without its own (on a server nobody else uses)", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      const server = yield* EmbeddedPostgres.make()
      const report = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: Redacted.value(server.dsn(database)) })
      const found = row(report, "database connections").found
      // max_connections 100, 3 reserved: preflight's own maintenance connection is open while it counts
      expect(found).toMatch(/^97 free of max_connections 100 \(0 in use by others, 3 reserved\)/)
      expectNoSecrets(...outputs(report))
    }), 60_000)

  it.scopedLive("checks the server's version, CREATEDB, extensions and free connections", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      yield* Effect.acquireRelease(
        admin(`DROP ROLE IF EXISTS ${weakRole}; CREATE ROLE ${weakRole} LOGIN NOCREATEDB PASSWORD '${dsnPassword}'`),
        () => admin(`DROP ROLE IF EXISTS ${weakRole}`)
      )
      const spec = Preflight.extend(Preflight.defaultSpec, {
        database: { minServerVersion: 99, extensions: ["plpgsql", "no_such_extension"], connections: 100_000 }
      })
      const report = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsnFor(database, weakRole) }, { spec })
      expect(row(report, "database server")).toMatchObject({ status: "fail", reason: "server-too-old" })
      expect(row(report, "database CREATEDB")).toMatchObject({ status: "fail", reason: "no-createdb" })
      expect(row(report, "database CREATEDB").fix).toContain(`ALTER ROLE "${weakRole}" CREATEDB`)
      expect(row(report, "database extensions")).toMatchObject({ status: "fail", reason: "missing-extension" })
      expect(row(report, "database extensions").found).toContain("no_such_extension")
      expect(row(report, "database extensions").found).not.toContain("plpgsql")
      expect(row(report, "database connections")).toMatchObject({ status: "fail", reason: "not-enough-connections" })
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("a role with CREATEDB that may not set the run's baseline parameter (PostgreSQL 15+) fails, with the grant to run", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      yield* Effect.acquireRelease(
        admin(`DROP ROLE IF EXISTS ${createdbRole}; CREATE ROLE ${createdbRole} LOGIN CREATEDB PASSWORD '${dsnPassword}'`),
        () => admin(`REVOKE ALL ON PARAMETER workflow_live.run FROM ${createdbRole}; DROP ROLE IF EXISTS ${createdbRole}`)
      )
      const dsn = dsnFor(database, createdbRole)
      const before = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsn })
      expect(row(before, "database CREATEDB")).toMatchObject({ status: "fail", reason: "no-baseline-privilege" })
      expect(row(before, "database CREATEDB").fix).toBe(`as a superuser: GRANT SET ON PARAMETER workflow_live.run TO "${createdbRole}";`)
      expectNoSecrets(...outputs(before))
      // the fix it names is enough
      yield* admin(`GRANT SET ON PARAMETER workflow_live.run TO ${createdbRole}`)
      const after = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsn })
      expect(row(after, "database CREATEDB")).toMatchObject({ status: "pass" })
      expect(row(after, "database CREATEDB").found).toBe(`\`${createdbRole}\` has CREATEDB and may set workflow_live.run`)
    }))

  it.scopedLive("an existing workflow database without the marker that holds something fails, as the reset would refuse it", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      yield* Effect.acquireRelease(
        admin(`DROP DATABASE IF EXISTS ${existing} WITH (FORCE)`).pipe(Effect.andThen(admin(`CREATE DATABASE ${existing}`))),
        () => admin(`DROP DATABASE IF EXISTS ${existing} WITH (FORCE)`)
      )
      yield* Effect.promise(() => withClient(existing, (c) => c.query("CREATE TABLE precious (id int)")))
      const dsn = dsnFor(existing)
      const report = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsn }, { guard: { database: existing } })
      expect(row(report, "database identity")).toMatchObject({ status: "fail", reason: "unmarked-database-not-empty" })
      expect(row(report, "database identity").found).toContain("table public.precious")
      expect(row(report, "database identity").fix).toContain(`export WORKFLOW_LIVE_CONFIRM_DROP=${existing}`)
      // confirmed by name, as the reset would accept it
      const confirmed = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsn, WORKFLOW_LIVE_CONFIRM_DROP: existing }, { guard: { database: existing } })
      expect(row(confirmed, "database identity")).toMatchObject({ status: "pass" })
      expectNoSecrets(...outputs(report))
    }))

  it.scopedLive("checks current_database() on the lane's connection when the workflow database exists", () =>
    Effect.gen(function*() {
      const { env } = yield* healthyApis
      yield* Effect.acquireRelease(
        admin(`DROP DATABASE IF EXISTS ${existing} WITH (FORCE)`).pipe(Effect.andThen(admin(`CREATE DATABASE ${existing}`))),
        () => admin(`DROP DATABASE IF EXISTS ${existing} WITH (FORCE)`)
      )
      const report = yield* run({ ...env, TENDERBOT_WORKFLOW_DB_DSN: dsnFor(existing) }, { guard: { database: existing } })
      expect(row(report, "database identity")).toMatchObject({ status: "pass" })
      expect(row(report, "database identity").found).toBe(`current_database() = \`${existing}\` on the lane's connection`)

      // after the reset: the same check on its own, failing when the database is not there
      const target = yield* DsnGuard.verify(redacted(dsnFor(existing)), {}, { database: existing })
      const after = yield* Preflight.checkIdentity(target)
      expect(after.verdict).toBe("pass")
      const missingTarget = yield* DsnGuard.verify(redacted(dsnFor(database)), {}, { database })
      const missing = yield* Effect.flip(Preflight.checkIdentity(missingTarget))
      expect(missing.report.rows[0]).toMatchObject({ status: "fail", reason: "database-missing" })
      expectNoSecrets(missing.message)
    }))
})
