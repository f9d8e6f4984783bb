import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Exit, Option, Redacted } from "effect"
import { inspect } from "node:util"
// @ts-expect-error: @types/pg's deep typings are not reachable through pg's "exports"
import ConnectionParametersModule from "pg/lib/connection-parameters.js"
// @ts-expect-error: pg ships no types for its defaults module
import pgDefaultsModule from "pg/lib/defaults.js"
import { afterEach, vi } from "vitest"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as WorkflowLiveConfig from "../../src/WorkflowLiveConfig.js"

const W = "tenderbot_workflow_test"
const VAR = "TENDERBOT_WORKFLOW_DB_DSN"

type Env = Partial<Record<"PGHOST" | "PGPORT" | "PGUSER" | "PGDATABASE" | "USER" | "TENDERBOT_DB_DSN", string>>

interface Case {
  readonly name: string
  readonly dsn: string | undefined
  readonly reason: DsnGuard.DsnGuardReason | "accepted"
  /** The database the driver would connect to (target.database or error.database). */
  readonly database?: string | undefined
  readonly host?: string
  readonly port?: number
  readonly user?: string
  readonly env?: Env
  /** Password text that must appear in no output. */
  readonly secrets?: ReadonlyArray<string>
  /** Words the message must contain (the specific explanation). */
  readonly mentions?: ReadonlyArray<string>
  /** Words the accepted target's TLS description must contain. */
  readonly tls?: string
}

const ok = (name: string, dsn: string, fields: Omit<Case, "name" | "dsn" | "reason">): Case => ({
  name,
  dsn,
  reason: "accepted",
  database: W,
  ...fields
})
const no = (
  reason: DsnGuard.DsnGuardReason,
  name: string,
  dsn: string | undefined,
  fields: Omit<Case, "name" | "dsn" | "reason"> = {}
): Case => ({ name, dsn, reason, ...fields })

// The user the driver falls back to is the process's USER; fixed here so every case is deterministic.
const baseEnv: Env = { USER: "runner" }

const longName = "a".repeat(10_000)
const longPassword = "Lp9".repeat(3_400)

const corpus: ReadonlyArray<Case> = [
  // ---- accepted: every spelling that really reaches tenderbot_workflow_test
  ok("plain URL", `postgres://postgres:SECRETpw1@127.0.0.1:5432/${W}`, {
    host: "127.0.0.1",
    port: 5432,
    user: "postgres",
    secrets: ["SECRETpw1"]
  }),
  ok("postgresql scheme, default port", `postgresql://alice@localhost/${W}`, {
    host: "localhost",
    port: 5432,
    user: "alice"
  }),
  ok("upper-case scheme and host", `POSTGRES://Bob@DB.EXAMPLE:6543/${W}`, {
    host: "DB.EXAMPLE",
    port: 6543,
    user: "Bob"
  }),
  ok("percent-encoded underscores", "postgres://u@h/tenderbot%5Fworkflow%5Ftest", { host: "h", user: "u" }),
  ok("percent-encoded first letter", "postgres://u@h/%74enderbot_workflow_test", { host: "h" }),
  ok("sslmode=require", `postgres://u:SslPass42@h/${W}?sslmode=require`, {
    host: "h",
    secrets: ["SslPass42"],
    tls: "certificate NOT verified (sslmode=require)"
  }),
  ok("options parameter", `postgres://u@h/${W}?options=-c%20search_path%3Dpublic`, { host: "h" }),
  ok("?dbname= naming the same database", `postgres://u@h/${W}?dbname=${W}`, { host: "h" }),
  ok("sslmode=disable", `postgres://u@h/${W}?sslmode=disable`, { tls: "off (sslmode=disable)" }),
  ok("sslmode=verify-full", `postgres://u@h/${W}?sslmode=verify-full`, { tls: "certificate and host name verified" }),
  ok("sslmode=no-verify", `postgres://u@h/${W}?sslmode=no-verify`, { tls: "NOT verified" }),
  ok("session settings the driver honours", `postgres://u@h/${W}?statement_timeout=5000&lock_timeout=100&client_encoding=UTF8`, {
    host: "h"
  }),
  ok("connect_timeout and keepalives", `postgres://u@h/${W}?connect_timeout=7&keepalives=1&keepalives_idle=30`, {
    host: "h"
  }),
  ok("password as a query parameter", `postgres://u@h/${W}?password=Pw%23Param1`, {
    host: "h",
    secrets: ["Pw#Param1", "Pw%23Param1"]
  }),
  ok("socket URL with db", `socket:/var/run/postgresql?db=${W}`, {
    host: "/var/run/postgresql",
    port: 5432,
    user: "runner"
  }),
  ok("socket URL with credentials", `socket://sockuser:SockPass1@/var/run/postgresql?db=${W}`, {
    host: "/var/run/postgresql",
    user: "sockuser",
    secrets: ["SockPass1"]
  }),
  ok("encoded socket directory as host", `postgres://%2Fvar%2Frun%2Fpostgresql/${W}`, { host: "/var/run/postgresql" }),
  ok("IPv6 loopback", `postgres://u:V6pass99@[::1]:5432/${W}`, { host: "::1", port: 5432, secrets: ["V6pass99"] }),
  ok("IPv6 address, default port", `postgres://u@[2001:db8::1]/${W}`, { host: "2001:db8::1", port: 5432 }),
  ok("empty host and port take PGHOST, PGPORT, PGUSER", `postgres:///${W}`, {
    env: { PGHOST: "db.internal", PGPORT: "6000", PGUSER: "ci" },
    host: "db.internal",
    port: 6000,
    user: "ci"
  }),
  ok("no host and no user: localhost and USER", `postgres:///${W}`, { host: "localhost", port: 5432, user: "runner" }),
  ok("credentials with an empty host", `postgres://u:EmptyHost7@/${W}`, {
    host: "localhost",
    user: "u",
    secrets: ["EmptyHost7"]
  }),
  ok("password with every special character encoded", `postgres://u:p%40s%23s%2Fw%3Fo%3Ard@h/${W}`, {
    host: "h",
    secrets: ["p@s#s/w?o:rd", "p%40s%23s%2Fw%3Fo%3Ard"]
  }),
  ok("password with unencoded @ and :", `postgres://u:Pa@ss:wo@rd@h/${W}`, {
    host: "h",
    user: "u",
    secrets: ["Pa@ss:wo@rd", "ss:wo"]
  }),
  ok("unicode password", `postgres://u:pässwörd€42@h/${W}`, { host: "h", secrets: ["pässwörd€42", "sswörd€"] }),
  ok("password with spaces", `postgres://u:my secret pw@h/${W}`, { host: "h", secrets: ["my secret pw"] }),
  ok("a trailing newline, which the URL parser drops", `postgres://u@h/${W}\n`, { host: "h" }),
  ok("?host= and ?port= override the authority", `postgres://u@h/${W}?host=other.example&port=6001`, {
    host: "other.example",
    port: 6001
  }),
  ok("?user= overrides the user", `postgres://u@h/${W}?user=v`, { user: "v" }),
  ok("a fragment, which the driver ignores", `postgres://u@h/${W}#note`, { host: "h" }),
  ok("very long password (10k characters)", `postgres://u:${longPassword}@h/${W}`, {
    host: "h",
    secrets: [longPassword, longPassword.slice(0, 40)]
  }),

  // ---- missing-dsn
  no("missing-dsn", "unset", undefined, { mentions: ["no fallback to TENDERBOT_DB_DSN"] }),
  no("missing-dsn", "unset, TENDERBOT_DB_DSN set", undefined, {
    env: { TENDERBOT_DB_DSN: "postgres://postgres:DevPass11@127.0.0.1:5432/tenderbot" },
    secrets: ["DevPass11"],
    mentions: ["TENDERBOT_DB_DSN is set, but the lane never borrows it"]
  }),
  no("missing-dsn", "empty string", ""),
  no("missing-dsn", "whitespace only", "   "),
  no("missing-dsn", "tabs and newlines only", "\t\n"),
  no("missing-dsn", "empty, TENDERBOT_DB_DSN set", "", {
    env: { TENDERBOT_DB_DSN: "postgres://u:DevPass12@h/tenderbot" },
    secrets: ["DevPass12"],
    mentions: ["never borrows"]
  }),

  // ---- development-database
  no("development-database", "the story's example", "postgres://postgres:SECRET@127.0.0.1:5432/tenderbot", {
    database: "tenderbot",
    secrets: ["SECRET"]
  }),
  no("development-database", "postgresql scheme", "postgresql://u:DevPw123@localhost/tenderbot", {
    database: "tenderbot",
    secrets: ["DevPw123"]
  }),
  no("development-database", "encoded letter tender%62ot", "postgres://u@h/tender%62ot", { database: "tenderbot" }),
  no("development-database", "upper-case scheme", "POSTGRES://U@H:5432/tenderbot", { database: "tenderbot" }),
  no("development-database", "?database= does not win over the path", `postgres://u@h/tenderbot?database=${W}`, {
    database: "tenderbot"
  }),
  no("development-database", "sslmode and options", "postgres://u@h/tenderbot?sslmode=require&options=-c%20x%3Dy", {
    database: "tenderbot"
  }),
  no("development-database", "password as query parameter", "postgres://u@h/tenderbot?password=QueryPw77", {
    database: "tenderbot",
    secrets: ["QueryPw77"]
  }),
  no("development-database", "socket URL", "socket:/var/run/postgresql?db=tenderbot", { database: "tenderbot" }),
  no("development-database", "socket URL, encoded db", "socket:/tmp?db=tender%62ot", { database: "tenderbot" }),
  no("development-database", "IPv6", "postgres://u:V6Pass99@[::1]:5432/tenderbot", {
    database: "tenderbot",
    secrets: ["V6Pass99"]
  }),
  no("development-database", "with a fragment", "postgres://u@h/tenderbot#x", { database: "tenderbot" }),
  no("development-database", "encoded password", "postgres://u:Pa%2Fss%3Fw0rd@h/tenderbot", {
    database: "tenderbot",
    secrets: ["Pa/ss?w0rd", "Pa%2Fss%3Fw0rd"]
  }),

  // ---- unit-test-database
  no("unit-test-database", "plain", "postgres://postgres:SECRET@127.0.0.1:5432/tenderbot_test", {
    database: "tenderbot_test",
    secrets: ["SECRET"]
  }),
  no("unit-test-database", "%74enderbot_test", "postgres://u@h/%74enderbot_test", { database: "tenderbot_test" }),
  no("unit-test-database", "encoded underscore", "postgres://u@h/tenderbot%5Ftest", { database: "tenderbot_test" }),
  no("unit-test-database", "?dbname= does not win over the path", `postgres://u@h/tenderbot_test?dbname=${W}`, {
    database: "tenderbot_test"
  }),
  no("unit-test-database", "socket URL", "socket:/var/run/postgresql?db=tenderbot_test", {
    database: "tenderbot_test"
  }),

  // ---- server-database
  no("server-database", "postgres", "postgres://u:SrvPass01@h/postgres", { database: "postgres", secrets: ["SrvPass01"] }),
  no("server-database", "template0", "postgres://u@h/template0", { database: "template0" }),
  no("server-database", "template1", "postgres://u@h/template1", { database: "template1" }),
  no("server-database", "encoded %70ostgres", "postgres://u@h/%70ostgres", { database: "postgres" }),
  no("server-database", "socket URL", "socket:/var/run/postgresql?db=postgres", { database: "postgres" }),

  // ---- lookalike-database
  no("lookalike-database", "upper case TENDERBOT", "postgres://u@h/TENDERBOT", {
    database: "TENDERBOT",
    mentions: ["upper-case letters", "`tenderbot`"]
  }),
  no("lookalike-database", "mixed case workflow db", "postgres://u@h/Tenderbot_Workflow_Test", {
    database: "Tenderbot_Workflow_Test",
    mentions: ["upper-case letters", `\`${W}\``]
  }),
  no("lookalike-database", "hyphens for underscores", "postgres://u@h/tenderbot-workflow-test", {
    database: "tenderbot-workflow-test",
    mentions: ["dash"]
  }),
  no("lookalike-database", "one hyphen", "postgres://u@h/tenderbot_workflow-test", {
    database: "tenderbot_workflow-test",
    mentions: ["dash"]
  }),
  no("lookalike-database", "Cyrillic е", "postgres://u@h/tenderbot_workflow_t\u0435st", {
    database: "tenderbot_workflow_t\u0435st",
    mentions: ["U+0435"]
  }),
  no("lookalike-database", "Cyrillic о, percent-encoded", "postgres://u@h/tenderb%D0%BEt", {
    database: "tenderb\u043Et",
    mentions: ["U+043E", "`tenderbot`"]
  }),
  no("lookalike-database", "Cyrillic а", "postgres://u@h/templ\u0430te1", {
    database: "templ\u0430te1",
    mentions: ["U+0430", "`template1`"]
  }),
  no("lookalike-database", "Greek ο", "postgres://u@h/tenderb\u03BFt_test", {
    database: "tenderb\u03BFt_test",
    mentions: ["U+03BF", "`tenderbot_test`"]
  }),
  no("lookalike-database", "zero-width space, raw", "postgres://u@h/tender\u200Bbot", {
    database: "tender\u200Bbot",
    mentions: ["U+200B", "\\u{200B}"]
  }),
  no("lookalike-database", "zero-width space, encoded", `postgres://u@h/${W}%E2%80%8B`, {
    database: `${W}\u200B`,
    mentions: ["U+200B"]
  }),
  no("lookalike-database", "soft hyphen", "postgres://u@h/tender%C2%ADbot", {
    database: "tender\u00ADbot",
    mentions: ["U+00AD"]
  }),
  no("lookalike-database", "fullwidth letters", "postgres://u@h/ｔｅｎｄｅｒｂｏｔ", {
    database: "ｔｅｎｄｅｒｂｏｔ",
    mentions: ["U+FF54"]
  }),
  no("lookalike-database", "trailing slash on tenderbot", "postgres://u@h/tenderbot/", {
    database: "tenderbot/",
    mentions: ["`/`"]
  }),
  no("lookalike-database", "trailing slash on the workflow db", `postgres://u@h/${W}/`, {
    database: `${W}/`,
    mentions: ["`/`"]
  }),
  no("lookalike-database", "double slash", `postgres://u@h//${W}`, { database: `/${W}` }),
  no("lookalike-database", "encoded trailing space", "postgres://u@h/tenderbot%20", {
    database: "tenderbot ",
    mentions: ["whitespace"]
  }),
  no("lookalike-database", "raw trailing space", `postgres://u@h/${W} `, {
    database: `${W} `,
    mentions: ["whitespace"]
  }),
  no("lookalike-database", "encoded slash the driver keeps", `postgres://u@h/${W}%2F`, {
    database: `${W}%2F`,
    mentions: ["percent-encoded"]
  }),
  no("lookalike-database", "upper-case TEMPLATE1", "postgres://u@h/TEMPLATE1", { database: "TEMPLATE1" }),
  no("lookalike-database", "space for underscore", "postgres://u@h/tenderbot%20test", { database: "tenderbot test" }),

  // ---- not-workflow-database
  no("not-workflow-database", "another app", "postgres://u:OtherPw55@h/myapp", {
    database: "myapp",
    secrets: ["OtherPw55"]
  }),
  no("not-workflow-database", "missing _test", "postgres://u@h/tenderbot_workflow", { database: "tenderbot_workflow" }),
  no("not-workflow-database", "plural", "postgres://u@h/tenderbot_workflow_tests", {
    database: "tenderbot_workflow_tests"
  }),
  no("not-workflow-database", "dev suffix", "postgres://u@h/tenderbot_dev", { database: "tenderbot_dev" }),
  no("not-workflow-database", "socket URL", "socket:/var/run/postgresql?db=other", { database: "other" }),
  no("not-workflow-database", "10k-character name", `postgres://u@h/${longName}`, {
    database: longName,
    mentions: ["(10000 characters)"]
  }),

  // ---- no-database
  no("no-database", "no path", "postgres://u:NoDbPass1@h:5432", {
    database: "u",
    secrets: ["NoDbPass1"],
    mentions: ["the user name (`u`)"]
  }),
  no("no-database", "bare slash", "postgres://u@h/", { database: "u" }),
  no("no-database", "?database= only", `postgres://u@h?database=${W}`, {
    database: "u",
    mentions: ["ignores ?database="]
  }),
  no("no-database", "?dbname= only", `postgres://u@h/?dbname=${W}`, { database: "u", mentions: ["ignores"] }),
  no("no-database", "socket URL without db", "socket:/var/run/postgresql", { database: "runner" }),
  no("no-database", "socket URL with dbname", `socket:/var/run/postgresql?dbname=${W}`, {
    database: "runner",
    mentions: ["?db=NAME"]
  }),
  no("no-database", "PGDATABASE is the workflow db: still refused", "postgres://u@h/", {
    env: { PGDATABASE: W },
    database: W,
    mentions: ["PGDATABASE"]
  }),
  no("no-database", "PGDATABASE would pick the development db", "postgres://u@h", {
    env: { PGDATABASE: "tenderbot" },
    database: "tenderbot",
    mentions: ["PGDATABASE (`tenderbot`)"]
  }),
  no("no-database", "no user either: PGUSER", "postgres://h", { env: { PGUSER: "pguser" }, database: "pguser" }),

  // ---- conflicting-database: psql and pg_dump read ?dbname=, the driver the path
  no("conflicting-database", "?dbname= names the development database", `postgres://u@h/${W}?dbname=tenderbot`, {
    database: W,
    mentions: ["?dbname=", "`tenderbot`", "psql"]
  }),
  no("conflicting-database", "?database= names another", `postgres://u@h/${W}?database=tenderbot`, { database: W }),
  no("conflicting-database", "?db= on a postgres:// URL", `postgres://u@h/${W}?db=other`, { database: W }),
  no("conflicting-database", "socket URL with a second name", `socket:/tmp?db=${W}&dbname=tenderbot`, { database: W }),

  // ---- unsupported-parameter: honoured by the driver but not carried, or unknown to it
  no("unsupported-parameter", "application_name", `postgres://u@h/${W}?application_name=mine`, {
    database: W,
    mentions: ["application_name"]
  }),
  no("unsupported-parameter", "replication", `postgres://u@h/${W}?replication=database`, { database: W }),
  no("unsupported-parameter", "binary", `postgres://u@h/${W}?binary=true`, { database: W }),
  no("unsupported-parameter", "a typo the driver would ignore", `postgres://u@h/${W}?sslmdoe=require`, {
    database: W,
    mentions: ["?sslmdoe=", "typo"]
  }),
  no("unsupported-parameter", "search_path as a parameter", `postgres://u@h/${W}?search_path=foo`, {
    database: W,
    mentions: ["options"]
  }),
  no("unsupported-parameter", "target_session_attrs", `postgres://u@h/${W}?target_session_attrs=read-write`, {
    database: W
  }),
  // the driver would send NaN, and the server refuse every connection with an error that reads like a timeout
  no("unsupported-parameter", "a timeout that is not a number", `postgres://u@h/${W}?statement_timeout=abc`, {
    database: W,
    mentions: ["?statement_timeout=", "not a whole number of milliseconds"]
  }),
  no("unsupported-parameter", "connect_timeout in words", `postgres://u@h/${W}?connect_timeout=ten`, {
    database: W,
    mentions: ["not a whole number of seconds"]
  }),

  // ---- unsupported-sslmode: the lane does not guess a TLS behaviour
  no("unsupported-sslmode", "prefer", `postgres://u:PrefPw12@h/${W}?sslmode=prefer`, {
    database: W,
    secrets: ["PrefPw12"],
    mentions: ["sslmode=prefer", "sslmode=require", "sslmode=verify-full"]
  }),
  no("unsupported-sslmode", "allow", `postgres://u@h/${W}?sslmode=allow`, { database: W }),
  no("unsupported-sslmode", "verify-ca without sslrootcert", `postgres://u@h/${W}?sslmode=verify-ca`, {
    database: W,
    mentions: ["sslrootcert"]
  }),
  no("unsupported-sslmode", "not a mode", `postgres://u@h/${W}?sslmode=on`, { database: W }),

  // ---- not-a-url
  no("not-a-url", "a secret pasted into the wrong variable", "sk-live-0123456789abcdefSECRETKEY", {
    secrets: ["0123456789abcdefSECRETKEY", "live-0123"],
    mentions: ["33 characters, not shown"]
  }),
  no("not-a-url", "a short word", "hunter2", { secrets: ["hunter2"] }),
  no("not-a-url", "mysql", `mysql://u:MyPass123@h:3306/${W}`, { secrets: ["MyPass123"], mentions: ["`mysql://`"] }),
  no("not-a-url", "http", `http://h/${W}`, { mentions: ["`http://`"] }),
  no("not-a-url", "jdbc", `jdbc:postgresql://h:5432/${W}`, { mentions: ["jdbc:"] }),
  no("not-a-url", "postgres: without //", `postgres:/${W}`, { mentions: ["`//`"] }),
  no("not-a-url", "libpq key/value", `host=127.0.0.1 port=5432 dbname=${W} user=u password=KvPass123`, {
    secrets: ["KvPass123"],
    mentions: ["key/value"]
  }),
  no("not-a-url", "libpq key/value, quoted password", `host=h dbname=tenderbot password='kv secret 9'`, {
    secrets: ["kv secret 9"],
    mentions: ["key/value"]
  }),
  no("not-a-url", "missing scheme host:port/db", `localhost:5432/${W}`, { mentions: ["no scheme"] }),
  no("not-a-url", "missing scheme, IP", `127.0.0.1:5432/${W}`, { mentions: ["no scheme"] }),
  no("not-a-url", "missing scheme with credentials", `u:NoScheme77@localhost:5432/${W}`, {
    secrets: ["NoScheme77"],
    mentions: ["no scheme"]
  }),
  no("not-a-url", "bare socket path with db", `/var/run/postgresql ${W}`, { mentions: ["socket:/"] }),
  no("not-a-url", "bare socket path", "/var/run/postgresql", { mentions: ["socket:/"] }),
  no("not-a-url", "leading whitespace", ` postgres://u:LeadWs123@h/${W}`, {
    secrets: ["LeadWs123"],
    mentions: ["whitespace"]
  }),
  no("not-a-url", "just a database name", W),
  no("not-a-url", "10k characters of garbage", "x".repeat(10_000), { mentions: ["(10000 characters"] }),

  // ---- unparseable
  no("unparseable", "unencoded / in password", `postgres://u:Sekr/etPart@h/${W}`, {
    secrets: ["Sekr/etPart", "etPart", "Sekr"],
    mentions: ["percent-encoded"]
  }),
  no("unparseable", "unencoded # in password", `postgres://u:1234#5678@h/${W}`, {
    secrets: ["1234#5678", "1234", "5678"]
  }),
  no("unparseable", "unencoded ? in password", `postgres://u:Ab?cdEfgh@h/${W}`, { secrets: ["Ab?cdEfgh", "cdEfgh"] }),
  no("unparseable", "unencoded / in password, development db", "postgres://u:12/34abcd@h/tenderbot", {
    secrets: ["12/34abcd", "34abcd"]
  }),
  no("unparseable", "port out of range", `postgres://u:PortPw11@h:99999/${W}`, { secrets: ["PortPw11"] }),
  no("unparseable", "port not a number", `postgres://u@h:abc/${W}`),
  no("unparseable", "?port= not a number", `postgres://u@h/${W}?port=abc`, { mentions: ["the port in the DSN"] }),
  no("unparseable", "PGPORT not a number", `postgres://u@h/${W}`, { env: { PGPORT: "5432x" }, mentions: ["PGPORT"] }),
  no("unparseable", "malformed percent escape", "postgres://u@h/tender%C3bot", { mentions: ["%25"] }),
  no("unparseable", "broken IPv6", `postgres://u:Ipv6Pw12@[::1/${W}`, { secrets: ["Ipv6Pw12"] })
]

// the driver's own resolution (what pg.Client does with a connection string), used as the oracle
const ConnectionParameters = ConnectionParametersModule as new(dsn: string) => Record<string, unknown>
const pgDefaults = pgDefaultsModule as { user: string | undefined }

const envKeys = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "USER", "TENDERBOT_DB_DSN"] as const

const configFor = (c: Case): Map<string, string> => {
  const env = new Map<string, string>(Object.entries({ ...baseEnv, ...c.env }))
  if (c.dsn !== undefined) env.set(VAR, c.dsn)
  return env
}

/** Runs the guard the way the lane does: the contract read from an environment, then `make`. */
const run = (c: Case): Either.Either<DsnGuard.VerifiedTarget, DsnGuard.DsnGuardError> =>
  Effect.runSync(
    DsnGuard.make().pipe(
      Effect.provide(WorkflowLiveConfig.layerConfig),
      Effect.withConfigProvider(ConfigProvider.fromMap(configFor(c))),
      Effect.catchIf((e) => !(e instanceof DsnGuard.DsnGuardError), Effect.die),
      Effect.either
    )
  ) as Either.Either<DsnGuard.VerifiedTarget, DsnGuard.DsnGuardError>

/** What the driver itself would connect to, with the same environment. */
const driverView = (c: Case): { database: string; host: string; port: number; user: string } => {
  for (const key of envKeys) vi.stubEnv(key, undefined as unknown as string)
  for (const [key, value] of Object.entries({ ...baseEnv, ...c.env })) vi.stubEnv(key, value)
  // pg falls back to the USER it saw when it was loaded: give it this case's USER instead
  const loadedUser = pgDefaults.user
  pgDefaults.user = { ...baseEnv, ...c.env }.USER
  // the driver's own sslmode warning is what the guard spares users; here it would only be noise in the log
  const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {})
  try {
    const params = new ConnectionParameters(c.dsn!) as unknown as {
      database: string
      host: string
      port: number
      user: string
    }
    return { database: params.database, host: params.host, port: params.port, user: params.user }
  } finally {
    warn.mockRestore()
    pgDefaults.user = loadedUser
  }
}

afterEach(() => {
  vi.unstubAllEnvs()
})

/** Every text a person or a log could ever see of an outcome. */
const allOutputs = (outcome: Either.Either<DsnGuard.VerifiedTarget, DsnGuard.DsnGuardError>): string =>
  Either.match(outcome, {
    onLeft: (error) =>
      [
        error.message,
        error.masked ?? "",
        error.example,
        error.detail,
        String(error),
        error.stack ?? "",
        JSON.stringify(error),
        inspect(error, { depth: 10, showHidden: false }),
        inspect(error.secrets),
        JSON.stringify(Exit.fail(error)),
        String(Exit.fail(error))
      ].join("\n"),
    onRight: (target) =>
      [
        DsnGuard.describe(target),
        target.masked,
        JSON.stringify(target),
        inspect(target, { depth: 10 }),
        String(target.connection.password),
        JSON.stringify(target.connection)
      ].join("\n")
  })

// First in the file: pg-connection-string warns once per process, so a later test could not see it.
describe("DsnGuard and sslmode", () => {
  it("interprets sslmode itself: no driver SECURITY WARNING reaches the terminal", () => {
    const warn = vi.spyOn(process, "emitWarning")
    try {
      for (const mode of ["prefer", "require", "verify-ca", "verify-full", "allow", "disable", "no-verify"]) {
        const outcome = Effect.runSync(Effect.either(DsnGuard.verify(Option.some(Redacted.make(
          `postgres://u:TlsPw1234@h/${W}?sslmode=${mode}`
        )))))
        if (Either.isLeft(outcome)) expect(outcome.left.reason, mode).toBe("unsupported-sslmode")
        else expect(outcome.right.tls, mode).toContain(`sslmode=${mode}`)
      }
      expect(warn.mock.calls.map((call) => String(call[0])).join("\n")).not.toContain("SECURITY WARNING")
    } finally {
      warn.mockRestore()
    }
  })
})

describe("DsnGuard corpus", () => {
  it("covers every reason", () => {
    const covered = new Set(corpus.map((c) => c.reason))
    for (const reason of DsnGuard.reasons) expect(covered, reason).toContain(reason)
  })

  it.each(corpus)("$reason: $name", (c) => {
    const outcome = run(c)
    const got = Either.isRight(outcome) ? "accepted" : outcome.left.reason
    expect(got, Either.isLeft(outcome) ? outcome.left.message : "accepted").toBe(c.reason)

    const text = allOutputs(outcome)
    for (const secret of c.secrets ?? []) expect(text).not.toContain(secret)

    if (Either.isRight(outcome)) {
      const target = outcome.right
      expect(DsnGuard.isVerifiedTarget(target)).toBe(true)
      expect(target.database).toBe(W)
      expect(target.connection.database).toBe(W)
      if (c.host !== undefined) expect(target.host).toBe(c.host)
      if (c.port !== undefined) expect(target.port).toBe(c.port)
      if (c.user !== undefined) expect(target.user).toBe(c.user)
      if (c.tls !== undefined) expect(target.tls).toContain(c.tls)
      expect(target.connection).toMatchObject({ host: target.host, port: target.port, user: target.user })
      const description = DsnGuard.describe(target)
      for (const line of [target.masked, target.host, String(target.port), W]) expect(description).toContain(line)
      return
    }

    const error = outcome.left
    expect(error._tag).toBe("DsnGuardError")
    expect(error.database).toBe(c.database)
    const message = error.message
    // what, why, how: the variable, the reason, the explanation, and a command to copy
    expect(message).toContain(`${VAR} refused (${c.reason})`)
    expect(message).toContain("Why:")
    expect(message).toContain(`Fix:    export ${VAR}='${error.example}'`)
    if (c.dsn !== undefined && c.dsn.trim() !== "") expect(message).toContain(`DSN:    ${error.masked}`)
    if (error.database !== undefined && error.database.length < 60 && !/[\s\u200B\u00AD]/.test(error.database)) {
      expect(message).toContain(error.database)
    }
    for (const words of c.mentions ?? []) expect(message).toContain(words)
    expect(message.length).toBeLessThan(2_000)
    // the fix must work: the example DSN passes the guard in the same environment
    const fixed = run({ ...c, dsn: error.example })
    expect(Either.isRight(fixed), Either.isLeft(fixed) ? fixed.left.message : "").toBe(true)
  })
})

describe("DsnGuard resolves what the driver would connect to", () => {
  const comparable = corpus.filter((c) =>
    c.dsn !== undefined && !["missing-dsn", "not-a-url", "unparseable"].includes(c.reason)
  )

  it.each(comparable)("$reason: $name", (c) => {
    const outcome = run(c)
    const driver = driverView(c)
    if (Either.isRight(outcome)) {
      expect({
        database: outcome.right.database,
        host: outcome.right.host,
        port: outcome.right.port,
        user: outcome.right.user
      }).toEqual({ database: driver.database, host: driver.host, port: driver.port, user: driver.user })
    } else {
      expect(outcome.left.database).toBe(driver.database)
    }
  })

  it("a driver reading of each not-a-url DSN lands somewhere other than the DSN seems to say", () => {
    // the reason these are refused: pg would not connect to `host`/`db` as written
    for (const dsn of [`localhost:5432/${W}`, `host=127.0.0.1 dbname=${W}`, ` postgres://h/${W}`]) {
      const driver = driverView({ name: dsn, dsn, reason: "not-a-url" })
      expect(driver.host === "base" || driver.database !== W, dsn).toBe(true)
    }
  })
})

describe("DsnGuard options and brand", () => {
  const verify = (dsn: string, options: DsnGuard.Options = {}) =>
    Effect.runSync(Effect.either(DsnGuard.verify(Option.some(Redacted.make(dsn)), {}, options)))

  it("accepts another project's database and names its own variable", () => {
    const accepted = verify("postgres://u@h/other_workflow", { database: "other_workflow" })
    expect(Either.isRight(accepted)).toBe(true)
    const refused = verify(`postgres://u@h/${W}`, { database: "other_workflow", variable: "OTHER_DSN" })
    expect(Either.isLeft(refused) && refused.left.reason).toBe("not-workflow-database")
    expect(Either.isLeft(refused) && refused.left.message).toContain("export OTHER_DSN='postgres://u@h/other_workflow'")
  })

  it("refuses a project's own protected databases by role", () => {
    const options: DsnGuard.Options = {
      database: "app_live",
      protectedDatabases: [{ name: "app", role: "development" }, { name: "app_ci", role: "unit-test" }]
    }
    const dev = verify("postgres://u@h/app", options)
    const ci = verify("postgres://u@h/app_ci", options)
    const look = verify("postgres://u@h/APP", options)
    expect(Either.isLeft(dev) && dev.left.reason).toBe("development-database")
    expect(Either.isLeft(ci) && ci.left.reason).toBe("unit-test-database")
    expect(Either.isLeft(look) && look.left.reason).toBe("lookalike-database")
  })

  it("only targets the guard issued pass the runtime brand check", () => {
    const accepted = verify(`postgres://u:BrandPw1@h/${W}`)
    if (Either.isLeft(accepted)) throw new Error(accepted.left.message)
    const target = accepted.right
    expect(Effect.runSync(DsnGuard.assertVerified(target))).toBe(target)
    const copy = { ...target }
    expect(DsnGuard.isVerifiedTarget(copy)).toBe(false)
    const forged = JSON.parse(JSON.stringify(target)) as DsnGuard.VerifiedTarget
    const exit = Effect.runSyncExit(DsnGuard.assertVerified(forged))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("DsnGuard did not verify")
  })

  it("keeps the password out of serialisations but available to the driver", () => {
    const accepted = verify(`postgres://u:Keep%2FMe%3F1@h/${W}`)
    if (Either.isLeft(accepted)) throw new Error(accepted.left.message)
    const { connection } = accepted.right
    expect(connection.password && Redacted.value(connection.password)).toBe("Keep/Me?1")
    expect(JSON.stringify(accepted.right)).not.toContain("Keep")
    expect(inspect(accepted.right, { depth: 10, showHidden: true })).not.toContain("Keep")
  })

  it("keeps the secrets of an error out of its enumerable fields", () => {
    const refused = verify("postgres://u:ErrSecret99@h/tenderbot")
    if (Either.isRight(refused)) throw new Error("accepted")
    const error = refused.left
    expect(Redacted.value(error.secrets)).toContain("ErrSecret99")
    expect(JSON.stringify(error)).toContain("\"secrets\":\"<redacted>\"")
    expect(inspect(error, { showHidden: true, depth: 10 })).not.toContain("ErrSecret99")
    expect(Object.values(error).map(String).join("\n")).not.toContain("ErrSecret99")
  })
})
