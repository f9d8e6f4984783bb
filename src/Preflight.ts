/**
 * Preflight: everything the live lane needs (env variables, the database, the external APIs its
 * workflows call) checked at once, concurrently, each check bounded by its own timeout, so that a
 * user with three problems learns all three from one run. The requirements are data (a {@link Spec});
 * the result is a {@link Report} with one row per check, rendered for a terminal and written as JSON.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Data, Duration, Effect, Either, Layer, Option, ParseResult, Redacted, Schema, Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { mkdirSync, writeFileSync } from "node:fs"
import { resolve as resolvePath } from "node:path"
import * as DsnGuard from "./DsnGuard.js"
import { classify, type ConnectionProblem, fixFor, namedProblems } from "./internal/pgError.js"
import { secretsOf } from "./internal/redact.js"
import * as LaneDatabase from "./LaneDatabase.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

// ---------------------------------------------------------------------------------------------------
// Requirements as data
// ---------------------------------------------------------------------------------------------------

/** An env variable the suite reads. */
export interface EnvRequirement {
  readonly variable: string
  /** A missing required variable fails the check; a missing optional one passes as "not set". */
  readonly required: boolean
  /** A secret is never shown: the report says it is set, and its length. */
  readonly secret: boolean
  /** The format of the value; a value that does not decode is `malformed-variable`. */
  readonly format?: Schema.Schema<string> | undefined
  /** What the value is, for the fix line. */
  readonly description: string
  /** An example value (a placeholder for secrets), for the fix line. */
  readonly example: string
}

/** An external HTTP API the workflows call, probed with one request. */
export interface HttpRequirement {
  /** A short name for the report: `llm`, `tenders`. */
  readonly name: string
  /** The variable holding the base URL. */
  readonly urlVariable: string
  /** Appended to the base URL for the probe (`/models`); empty probes the base URL itself. */
  readonly path?: string | undefined
  /** Default `GET`. */
  readonly method?: "GET" | "HEAD" | "OPTIONS" | undefined
  /** The statuses that mean "up and accepting us". Default: any 2xx. */
  readonly expectedStatus?: ReadonlyArray<number> | undefined
  /** Default 5 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Sends a credential from a (secret) variable, so that a wrong key shows up as 401/403 here. */
  readonly auth?: {
    readonly variable: string
    /** Default `Authorization`. */
    readonly header?: string | undefined
    /** Put before the value, default `Bearer`; empty sends the bare value. */
    readonly scheme?: string | undefined
  } | undefined
}

/** What the lane needs from the PostgreSQL server behind `TENDERBOT_WORKFLOW_DB_DSN`. */
export interface DatabaseRequirement {
  /** The lowest major version accepted (`DROP DATABASE ... WITH (FORCE)` needs 13). */
  readonly minServerVersion: number
  /** The reset drops and creates the workflow database, which needs CREATEDB (or superuser). */
  readonly createdb: boolean
  /** Extensions the migrations create; they must be available on the server. */
  readonly extensions: ReadonlyArray<string>
  /** Free connections the lane needs: its pool plus the reset's maintenance connection. */
  readonly connections: number
  /** The database preflight and reset connect to while the workflow database may not exist. Default `postgres`. */
  readonly maintenanceDatabase?: string | undefined
  /** Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** Everything a suite declares it needs. */
export interface Spec {
  readonly env: ReadonlyArray<EnvRequirement>
  readonly http: ReadonlyArray<HttpRequirement>
  /** `undefined`: the suite needs no database (no guard or database rows). */
  readonly database: DatabaseRequirement | undefined
}

/** An http:// or https:// URL with a host, and nothing else (no fragment, no surrounding spaces). */
export const HttpUrl: Schema.Schema<string> = Schema.String.pipe(
  Schema.filter((value) => {
    if (value !== value.trim()) return "has leading or trailing whitespace"
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return "is not a URL (expected http:// or https://, e.g. https://api.example.com/v1)"
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return `has scheme \`${url.protocol}\`; expected http:// or https://`
    }
    if (url.hostname === "") return "has no host"
    return true
  })
)

/** The variable of the LLM API's base URL. */
export const llmBaseUrlVariable = "TENDERBOT_LLM_BASE_URL"
/** The variable of the LLM API's key. */
export const llmApiKeyVariable = "TENDERBOT_LLM_API_KEY"
/** The variable of the tender source API's base URL. */
export const tendersApiUrlVariable = "TENDERBOT_TENDERS_API_URL"

/**
 * Tenderbot's needs. The LLM API is probed OpenAI-style, `GET {TENDERBOT_LLM_BASE_URL}/models` with
 * `Authorization: Bearer {TENDERBOT_LLM_API_KEY}`, so a wrong key shows up as 401/403 before the lane
 * spends anything; the tender source API with `GET {TENDERBOT_TENDERS_API_URL}` itself. Both expect 2xx.
 */
export const defaultSpec: Spec = {
  env: [
    {
      variable: WorkflowLiveConfig.dsnVariable,
      required: true,
      secret: true,
      description: `the DSN of \`${WorkflowLiveConfig.workflowDatabase}\``,
      example: `postgres://postgres:PASSWORD@127.0.0.1:5432/${WorkflowLiveConfig.workflowDatabase}`
    },
    {
      variable: llmBaseUrlVariable,
      required: true,
      secret: false,
      format: HttpUrl,
      description: "the LLM API's base URL (OpenAI-compatible)",
      example: "https://api.openai.com/v1"
    },
    {
      variable: llmApiKeyVariable,
      required: true,
      secret: true,
      description: "the LLM API key",
      example: "<your LLM API key>"
    },
    {
      variable: tendersApiUrlVariable,
      required: true,
      secret: false,
      format: HttpUrl,
      description: "the tender source API's base URL",
      example: "https://tenders.example.com/api"
    }
  ],
  http: [
    { name: "llm", urlVariable: llmBaseUrlVariable, path: "/models", auth: { variable: llmApiKeyVariable } },
    { name: "tenders", urlVariable: tendersApiUrlVariable }
  ],
  database: { minServerVersion: 13, createdb: true, extensions: [], connections: 5 }
}

/** Additions to a spec: entries with the same variable (env) or name (http) replace the base's. */
export interface SpecExtension {
  readonly env?: ReadonlyArray<EnvRequirement> | undefined
  readonly http?: ReadonlyArray<HttpRequirement> | undefined
  readonly database?: Partial<DatabaseRequirement> | undefined
}

/** A new suite's spec: the base (usually {@link defaultSpec}) plus its own needs. */
export const extend = (base: Spec, more: SpecExtension): Spec => {
  const env = more.env ?? []
  const http = more.http ?? []
  return {
    env: [...base.env.filter((e) => !env.some((m) => m.variable === e.variable)), ...env],
    http: [...base.http.filter((h) => !http.some((m) => m.name === h.name)), ...http],
    database: more.database === undefined
      ? base.database
      : { ...(base.database ?? defaultSpec.database!), ...more.database } as DatabaseRequirement
  }
}

// ---------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------

/** A row's outcome: `skipped` is either "not checked, an earlier check failed" or "skipped by policy". */
export type Status = "pass" | "fail" | "skipped"

/** What a row checked. */
export type Kind = "setting" | "env" | "database" | "http"

/** Every row reason, for docs and tests. */
export const reasons = [
  "invalid-policy",
  "missing-variable",
  "malformed-variable",
  "not-checked",
  "guard-refused",
  ...namedProblems,
  "database-error",
  "server-too-old",
  "no-createdb",
  "missing-extension",
  "not-enough-connections",
  "identity-mismatch",
  "not-listening",
  "unauthorized",
  "server-error",
  "unexpected-status",
  "network-error",
  "no-cassettes"
] as const

/** Why a row did not pass. */
export type Reason = typeof reasons[number]

/**
 * The failures `WORKFLOW_LIVE_ON_MISSING=skip` may turn into a skipped lane: missing variables and
 * external APIs that cannot be reached. A guard refusal, an identity mismatch, a malformed value, bad
 * credentials and every database problem (a database the lane cannot reset) always fail.
 */
export const skippableReasons: ReadonlyArray<Reason> = [
  "missing-variable",
  "not-listening",
  "unknown-host",
  "timeout",
  "server-error",
  "network-error"
]

/** One check's result. Every text is already free of secrets. */
export interface Row {
  readonly check: string
  readonly kind: Kind
  readonly status: Status
  /** Why it did not pass; `undefined` for a pass. */
  readonly reason: Reason | undefined
  /** Whether `WORKFLOW_LIVE_ON_MISSING=skip` may skip this failure. */
  readonly skippable: boolean
  readonly durationMs: number
  /** What the check found. */
  readonly found: string
  /** What to do about it; `undefined` for a pass. */
  readonly fix: string | undefined
}

/** The whole preflight: one row per check, and what it means for the lane. */
export interface Report {
  /** `pass`: run the lane; `skip`: report every live test as skipped; `fail`: refuse to run. */
  readonly verdict: "pass" | "fail" | "skip"
  readonly policy: WorkflowLiveConfig.OnMissing
  readonly startedAt: string
  readonly durationMs: number
  readonly rows: ReadonlyArray<Row>
  /** Why the lane is skipped, for `verdict: "skip"`. */
  readonly skipReason: string | undefined
  /** Where the JSON copy of this report was written, if it was. */
  readonly file: string | undefined
}

/** The preflight found problems the policy does not allow to skip; the report lists every one. */
export class PreflightError extends Data.TaggedError("PreflightError")<{
  readonly reason: "checks-failed"
  readonly report: Report
}> {
  override get message(): string {
    const failed = this.report.rows.filter((row) => row.status === "fail")
    return [
      `Preflight failed: ${failed.length} of ${this.report.rows.length} checks failed.`,
      ...failed.flatMap((row) => [
        `  - ${row.check} [${row.reason}]: ${row.found}`,
        ...(row.fix === undefined ? [] : [`      fix: ${row.fix}`])
      ]),
      `  Why: the live lane starts only when every check passes; otherwise it would fail later, ` +
      `mid-workflow, after spending time and API calls, or touch a database it must not.` +
      (failed.every((row) => row.skippable)
        ? ""
        : ` ${WorkflowLiveConfig.onMissingVariable}=skip cannot skip this: it only skips missing variables ` +
          `and unreachable external APIs, never the guard, the database or credentials.`),
      `  Report: ${this.report.file ?? "not written"}  (rerun \`workflow-live preflight\` after fixing)`
    ].join("\n")
  }
}

/** The service a suite's layers can read the preflight report from. */
export interface Preflight {
  readonly report: Report
}

/** The tag of the preflight's report. */
export const Preflight: Context.Tag<Preflight, Preflight> = Context.GenericTag<Preflight>("workflow-live/Preflight")

/** How preflight runs. */
export interface Options {
  /** Default {@link defaultSpec}. */
  readonly spec?: Spec | undefined
  /** Passed to the guard: another database name, other protected names. */
  readonly guard?: DsnGuard.Options | undefined
  /** Overrides `WORKFLOW_LIVE_ON_MISSING`. */
  readonly onMissing?: WorkflowLiveConfig.OnMissing | undefined
  /** Overrides `WORKFLOW_LIVE_REPORT_DIR`; `false` writes no file. */
  readonly reportDir?: string | false | undefined
  /**
   * HTTP replay (`WORKFLOW_LIVE_HTTP=replay`): the APIs are answered from cassettes, so their variables
   * are not required and they are not probed; each API row says how many cassettes there are.
   */
  readonly replay?: { readonly cassettes: number; readonly dir: string } | undefined
}

// ---------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------

interface Outcome {
  readonly status: "pass" | "fail" | "not-checked"
  readonly reason: Reason | undefined
  readonly found: string
  readonly fix: string | undefined
}

const pass = (found: string): Outcome => ({ status: "pass", reason: undefined, found, fix: undefined })
const fail = (reason: Reason, found: string, fix: string): Outcome => ({ status: "fail", reason, found, fix })
const notChecked = (found: string, fix: string): Outcome => ({ status: "not-checked", reason: "not-checked", found, fix })

interface Check {
  readonly check: string
  readonly kind: Kind
  readonly run: Effect.Effect<Outcome>
}

const maxShown = 120

/** A non-secret value for display: URL credentials masked, long values cut. */
const display = (value: string): string => {
  let shown = value
  try {
    const url = new URL(value)
    if (url.password !== "") {
      url.password = "*****"
      shown = url.href
    }
  } catch {
    // not a URL: shown as is
  }
  return JSON.stringify(shown.length > maxShown ? `${shown.slice(0, maxShown)}…` : shown)
}

const envCheck = (requirement: EnvRequirement, value: Option.Option<string>): Check => ({
  check: `env ${requirement.variable}`,
  kind: "env",
  run: Effect.sync(() => {
    const setFix = `export ${requirement.variable}='${requirement.example}'  (${requirement.description})`
    if (Option.isNone(value)) {
      return requirement.required
        ? fail("missing-variable", "not set", setFix)
        : pass("not set (optional)")
    }
    const shown = requirement.secret ? `set (${value.value.length} characters, hidden)` : display(value.value)
    if (requirement.format === undefined) return pass(shown)
    const decoded = Schema.decodeEither(requirement.format)(value.value)
    if (Either.isRight(decoded)) return pass(shown)
    // a secret's value must not leak through the schema's message, which may quote it
    const problem = requirement.secret
      ? "does not have the expected format"
      : ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => issue.message).join("; ")
    return fail("malformed-variable", `${shown} ${problem}`, setFix)
  })
})

const withoutTrailingSlash = (url: string): string => url.replace(/\/+$/, "")

const httpProblem = (error: unknown): { readonly reason: Reason; readonly detail: string } => {
  const classified = classify(error)
  const detail = classified.detail
  switch (classified.problem) {
    case "connection-refused":
      return { reason: /ECONNRESET/.test(classified.code ?? "") ? "network-error" : "not-listening", detail }
    case "unknown-host":
      return { reason: "unknown-host", detail }
    case "timeout":
      return { reason: "timeout", detail }
    case "tls":
      return { reason: "tls", detail }
    default:
      return /EPROTO|SSL|TLS|certificate|wrong version number/i.test(`${classified.code ?? ""} ${detail}`)
        ? { reason: "tls", detail }
        : { reason: "network-error", detail }
  }
}

const httpCheck = (
  requirement: HttpRequirement,
  env: ReadonlyMap<string, Outcome & { readonly value: Option.Option<string> }>,
  client: HttpClient.HttpClient
): Check => {
  const timeout = Duration.decode(requirement.timeout ?? Duration.seconds(5))
  const method = requirement.method ?? "GET"
  const check = `http ${requirement.name}`
  const base = env.get(requirement.urlVariable)
  const key = requirement.auth === undefined ? undefined : env.get(requirement.auth.variable)
  const blocked = [base, key].find((entry) => entry !== undefined && entry.status !== "pass")
  const run = Effect.suspend((): Effect.Effect<Outcome> => {
    if (blocked !== undefined || base === undefined || Option.isNone(base.value)) {
      const variable = blocked === key && key !== undefined ? requirement.auth!.variable : requirement.urlVariable
      return Effect.succeed(notChecked(
        `not probed: ${variable} is ${blocked?.reason === "malformed-variable" ? "malformed" : "not set"}`,
        `fix env ${variable} first`
      ))
    }
    const url = `${withoutTrailingSlash(base.value.value)}${requirement.path ?? ""}`
    const target = `${method} ${display(url).slice(1, -1)}`
    const expected = requirement.expectedStatus
    const isExpected = (status: number): boolean =>
      expected === undefined ? status >= 200 && status < 300 : expected.includes(status)
    let request = HttpClientRequest.make(method)(url)
    if (requirement.auth !== undefined && key !== undefined && Option.isSome(key.value)) {
      const scheme = requirement.auth.scheme ?? "Bearer"
      request = HttpClientRequest.setHeader(
        request,
        requirement.auth.header ?? "Authorization",
        scheme === "" ? key.value.value : `${scheme} ${key.value.value}`
      )
    }
    const seconds = `${Duration.toMillis(timeout) / 1000} s`
    return client.execute(request).pipe(
      Effect.map((response): Outcome => {
        const status = response.status
        if (isExpected(status)) return pass(`${status} from ${target}`)
        if (status === 401 || status === 403) {
          return fail(
            "unauthorized",
            `${status} from ${target}: the credentials were refused`,
            requirement.auth === undefined
              ? `the API requires credentials: add an \`auth\` entry for ${requirement.name} in the preflight spec`
              : `check ${requirement.auth.variable}: it is wrong, expired or lacks access to this API`
          )
        }
        if (status >= 500) {
          return fail(
            "server-error",
            `${status} from ${target}: the API is up but failing`,
            `the ${requirement.name} API is failing on its side; retry later or check its status page`
          )
        }
        return fail(
          "unexpected-status",
          `${status} from ${target}, expected ${expected === undefined ? "2xx" : expected.join(" or ")}`,
          `check that ${requirement.urlVariable} is the API's base URL (the probe is ${target})`
        )
      }),
      Effect.catchAll((error) => {
        const problem = httpProblem(error)
        const fixes: Record<string, string> = {
          "not-listening": `nothing listens at ${display(url)}: start the ${requirement.name} API or correct ` +
            `${requirement.urlVariable}`,
          "unknown-host": `the host in ${requirement.urlVariable} does not resolve: correct it, or check DNS / VPN`,
          "tls": `the TLS handshake with ${display(url)} failed: check http:// vs https:// in ` +
            `${requirement.urlVariable} and the server's certificate`,
          "timeout": `check the network path to the ${requirement.name} API`,
          "network-error": `check the network path to the ${requirement.name} API and ${requirement.urlVariable}`
        }
        return Effect.succeed(fail(problem.reason, `${target}: ${problem.detail}`, fixes[problem.reason]!))
      }),
      Effect.timeoutTo({
        duration: timeout,
        onSuccess: (outcome) => outcome,
        onTimeout: () =>
          fail(
            "timeout",
            `${target} did not answer within ${seconds}`,
            `the ${requirement.name} API is too slow or unreachable: check the network path, or raise the ` +
              `timeout of the \`${requirement.name}\` entry in the preflight spec`
          )
      })
    )
  })
  return { check, kind: "http", run }
}

// replay answers the API from cassettes: nothing to probe, but no cassette at all is a wrong directory
const replayCheck = (requirement: HttpRequirement, replay: { readonly cassettes: number; readonly dir: string }): Check => ({
  check: `http ${requirement.name}`,
  kind: "http",
  run: Effect.succeed(
    replay.cassettes > 0
      ? pass(`replay: ${replay.cassettes} cassette(s) in ${replay.dir}, not probed`)
      : fail(
        "no-cassettes",
        `replay: no cassette in ${replay.dir}`,
        "record first (workflow-live run --http=record, or WORKFLOW_LIVE_HTTP=record), or point " +
          "WORKFLOW_LIVE_CASSETTES at the directory that holds them"
      )
  )
})

const databaseProblem = (problem: ConnectionProblem): Reason => problem === "other" ? "database-error" : problem

const databaseChecks = (
  requirement: DatabaseRequirement,
  dsnValue: Option.Option<Redacted.Redacted<string>>,
  dsnCovered: boolean,
  driverContext: { readonly developmentDsnSet: boolean; readonly driverDefaults: WorkflowLiveConfig.DriverDefaults },
  guardOptions: DsnGuard.Options
): Effect.Effect<ReadonlyArray<Check>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const variable = guardOptions.variable ?? WorkflowLiveConfig.dsnVariable
    const timeout = Duration.decode(requirement.timeout ?? Duration.seconds(10))
    const maintenanceDatabase = requirement.maintenanceDatabase ?? "postgres"
    const verdict = yield* Effect.either(DsnGuard.verify(dsnValue, driverContext, guardOptions))
    const guardCheck: Check = {
      check: "database guard",
      kind: "database",
      run: Effect.succeed(
        Either.match(verdict, {
          onRight: (target) => pass(`accepted ${target.masked} (database \`${target.database}\`)`),
          onLeft: (error) =>
            error.reason === "missing-dsn"
              ? dsnCovered && !driverContext.developmentDsnSet
                ? notChecked(`no DSN: ${variable} is not set`, `fix env ${variable} first`)
                // say why TENDERBOT_DB_DSN, although set, is not borrowed
                : fail("missing-variable", `${variable} is not set. ${error.detail}`, `export ${variable}='${error.example}'`)
              : fail(
                "guard-refused",
                [error.message.split("\n")[0]!, error.detail].filter((s) => s !== "").join(" "),
                `export ${variable}='${error.example}'`
              )
        })
      )
    }
    const names = [
      "database server",
      "database CREATEDB",
      ...(requirement.extensions.length > 0 ? ["database extensions"] : []),
      "database connections",
      "database identity"
    ]
    if (Either.isLeft(verdict)) {
      return [
        guardCheck,
        ...names.map((check): Check => ({
          check,
          kind: "database",
          run: Effect.succeed(notChecked("not checked: no DSN the guard accepts", "fix the database guard first"))
        }))
      ]
    }
    const target = verdict.right
    const where = `${target.host}:${target.port}`
    const connectionFailure = (cause: unknown, database: string): Outcome => {
      const classified = classify(cause)
      return fail(
        databaseProblem(classified.problem),
        `cannot connect to \`${database}\` on ${where}: ${classified.detail}`,
        fixFor(classified.problem, where, target.user, database)
      )
    }
    // one maintenance connection, shared by the rows that need it (the workflow database may not exist yet)
    const maintenance = yield* Effect.cached(
      Layer.build(PgClient.layer(LaneDatabase.clientConfig(target, {
        database: maintenanceDatabase,
        maxConnections: 1,
        connectTimeout: timeout
      }))).pipe(
        Effect.map((context) => Context.get(context, SqlClient.SqlClient)),
        Effect.mapError((cause) => connectionFailure(cause, maintenanceDatabase))
      )
    )
    const scope = yield* Effect.scope
    // the server row reports a failed connection; the rows that needed it say so instead of repeating it
    const onMaintenance = (
      f: (sql: SqlClient.SqlClient) => Effect.Effect<Outcome, unknown>,
      reportsConnection = false
    ): Effect.Effect<Outcome> =>
      maintenance.pipe(
        Effect.mapError((outcome) =>
          reportsConnection
            ? outcome
            : notChecked(`not checked: cannot connect to \`${maintenanceDatabase}\``, "fix the database server row first")
        ),
        Effect.flatMap((sql) =>
          f(sql).pipe(
            Effect.catchAll((cause) => {
              const classified = classify(cause)
              return Effect.succeed(fail(
                databaseProblem(classified.problem),
                `query on \`${maintenanceDatabase}\` failed: ${classified.detail}`,
                fixFor(classified.problem, where, target.user, maintenanceDatabase)
              ))
            })
          )
        ),
        Effect.catchAll((outcome) => Effect.succeed(outcome)),
        Effect.provideService(Scope.Scope, scope)
      )

    const serverCheck: Check = {
      check: "database server",
      kind: "database",
      run: onMaintenance((sql) =>
          sql<{ num: number; version: string }>`
            SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version
          `.pipe(Effect.map((rows) => {
            const row = rows[0]!
            const major = Math.floor(row.num / 10000)
            return major >= requirement.minServerVersion
              ? pass(`PostgreSQL ${row.version} on ${where}`)
              : fail(
                "server-too-old",
                `PostgreSQL ${row.version} on ${where}, the lane needs ${requirement.minServerVersion} or later`,
                `upgrade the server to PostgreSQL ${requirement.minServerVersion}+ or point ${variable} at a newer one`
              )
          })), true)
    }
    const createdbCheck: Check = {
      check: "database CREATEDB",
      kind: "database",
      run: onMaintenance((sql) =>
          sql<{ createdb: boolean; superuser: boolean; name: string }>`
            SELECT rolcreatedb AS createdb, rolsuper AS superuser, rolname AS name
            FROM pg_roles WHERE rolname = current_user
          `.pipe(Effect.map((rows) => {
            const row = rows[0]
            if (!requirement.createdb) return pass("not required")
            if (row?.superuser) return pass(`\`${row.name}\` is a superuser`)
            if (row?.createdb) return pass(`\`${row.name}\` has CREATEDB`)
            const name = row?.name ?? target.user
            return fail(
              "no-createdb",
              `\`${name}\` has neither CREATEDB nor superuser: the reset cannot drop and create the database`,
              `as a superuser: ALTER ROLE "${name}" CREATEDB;`
            )
          }))
      )
    }
    const extensionsCheck: Check = {
      check: "database extensions",
      kind: "database",
      run: onMaintenance((sql) =>
          sql<{ name: string }>`
            SELECT name FROM pg_available_extensions WHERE name IN ${sql.in(requirement.extensions)}
          `.pipe(Effect.map((rows) => {
            const missing = requirement.extensions.filter((name) => !rows.some((row) => row.name === name))
            return missing.length === 0
              ? pass(`available: ${requirement.extensions.join(", ")}`)
              : fail(
                "missing-extension",
                `not available on the server: ${missing.join(", ")}`,
                `install them on the server (e.g. the postgresql-contrib or postgresql-<version>-<name> package)`
              )
          }))
      )
    }
    const connectionsCheck: Check = {
      check: "database connections",
      kind: "database",
      run: onMaintenance((sql) =>
          sql<{ max: number; reserved: number; used: number }>`
            SELECT current_setting('max_connections')::int AS max,
                   current_setting('superuser_reserved_connections')::int AS reserved,
                   (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS used
          `.pipe(Effect.map((rows) => {
            const row = rows[0]!
            const free = row.max - row.reserved - row.used
            const found = `${free} free of max_connections ${row.max} (${row.used} in use, ${row.reserved} reserved)`
            return free >= requirement.connections
              ? pass(`${found}; the lane needs ${requirement.connections}`)
              : fail(
                "not-enough-connections",
                `${found}; the lane needs ${requirement.connections}`,
                `close idle connections (see pg_stat_activity) or raise max_connections in postgresql.conf`
              )
          }))
      )
    }
    const identityCheck: Check = {
      check: "database identity",
      kind: "database",
      run: onMaintenance((sql) =>
          sql<{ present: boolean }>`
            SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ${target.database}) AS present
          `.pipe(
            Effect.flatMap((rows) =>
              rows[0]?.present
                ? laneIdentity(target, timeout).pipe(
                  Effect.map((outcome) =>
                    // a concurrent reset dropping the database (3D000, or our session terminated by its FORCE)
                    outcome.reason === "database-missing" || /terminat/i.test(outcome.found)
                      ? pass(`\`${target.database}\` was dropped meanwhile (a reset is running?); the reset creates it`)
                      : outcome
                  )
                )
                : Effect.succeed(pass(
                  `\`${target.database}\` does not exist yet: the reset creates it (identity is checked again ` +
                    `on the lane's connection after the reset)`
                ))
            )
          )
      )
    }
    return [
      guardCheck,
      serverCheck,
      createdbCheck,
      ...(requirement.extensions.length > 0 ? [extensionsCheck] : []),
      connectionsCheck,
      identityCheck
    ]
  })

/** Opens the lane's own connection (the fields the tests use) and checks `current_database()` on it. */
const laneIdentity = (target: DsnGuard.VerifiedTarget, timeout: Duration.Duration): Effect.Effect<Outcome> =>
  // building the lane's layer opens its connection and checks its identity, as the suites' will
  Layer.build(
    LaneDatabase.layer({ maxConnections: 1, connectTimeout: timeout }).pipe(
      Layer.provide(Layer.succeed(DsnGuard.VerifiedTarget, target))
    )
  ).pipe(
    Effect.scoped,
    Effect.map(() => pass(`current_database() = \`${target.database}\` on the lane's connection`)),
    Effect.catchAll((error): Effect.Effect<Outcome> =>
      Effect.succeed(
        error.reason === "identity-mismatch"
          ? fail(
            "identity-mismatch",
            `the lane's connection reports current_database() = \`${error.actual}\`, not \`${error.expected}\``,
            `point ${WorkflowLiveConfig.dsnVariable} straight at the server holding \`${error.expected}\`, not ` +
              `through a pooler or proxy that remaps database names`
          )
          : fail(
            databaseProblem(error.reason),
            `cannot open \`${target.database}\` on ${error.where}: ${error.detail}`,
            fixFor(error.reason, error.where, error.user, error.expected)
          )
      )
    )
  )

// ---------------------------------------------------------------------------------------------------
// Running, policy, output
// ---------------------------------------------------------------------------------------------------

const now = (): number => performance.now()

const timed = (check: Check): Effect.Effect<{ readonly check: Check; readonly outcome: Outcome; readonly ms: number }> =>
  Effect.suspend(() => {
    const start = now()
    return check.run.pipe(
      Effect.catchAllCause((cause) =>
        Effect.succeed(fail(
          check.kind === "http" ? "network-error" : "database-error",
          `the check itself failed: ${String(cause).split("\n")[0]}`,
          "report this as a harness bug"
        ))
      ),
      Effect.map((outcome) => ({ check, outcome, ms: Math.round(now() - start) }))
    )
  })

const toRow = (
  entry: { readonly check: Check; readonly outcome: Outcome; readonly ms: number },
  policy: WorkflowLiveConfig.OnMissing,
  secrets: ReadonlyArray<string>
): Row => {
  const { check, ms, outcome } = entry
  const skippable = outcome.reason !== undefined && skippableReasons.includes(outcome.reason)
  const status: Status = outcome.status === "pass"
    ? "pass"
    : outcome.status === "not-checked"
    ? "skipped"
    : policy === "skip" && skippable
    ? "skipped"
    : "fail"
  return {
    check: check.check,
    kind: check.kind,
    status,
    reason: outcome.reason,
    skippable,
    durationMs: ms,
    found: scrubAll(outcome.found, secrets),
    fix: outcome.fix === undefined ? undefined : scrubAll(outcome.fix, secrets)
  }
}

// Unlike `scrub`, short secrets are masked too: a report is no place for any part of a key.
const scrubAll = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.filter((secret) => secret.length > 0).reduce((acc, secret) => acc.split(secret).join("*****"), text)

/** Runs every check of the spec concurrently and applies the on-missing policy; check failures are rows, not errors. */
export const check = (options: Options = {}): Effect.Effect<Report, ConfigError> =>
  Effect.gen(function*() {
    const started = now()
    const startedAt = new Date().toISOString()
    const spec = options.spec ?? defaultSpec
    const guardOptions = options.guard ?? {}
    const dsnVariable = guardOptions.variable ?? WorkflowLiveConfig.dsnVariable

    // the policy setting is itself a check: a typo must not silently mean "fail" or "skip"
    const rawPolicy = yield* WorkflowLiveConfig.onMissing
    const policyValue = options.onMissing ?? Option.getOrElse(rawPolicy, () => "fail")
    const policyValid = (WorkflowLiveConfig.onMissingValues as ReadonlyArray<string>).includes(policyValue)
    const policy: WorkflowLiveConfig.OnMissing = policyValid ? policyValue as WorkflowLiveConfig.OnMissing : "fail"
    const policyCheck: Check = {
      check: `setting ${WorkflowLiveConfig.onMissingVariable}`,
      kind: "setting",
      run: Effect.succeed(
        policyValid
          ? pass(`${policy}${Option.isNone(rawPolicy) && options.onMissing === undefined ? " (default)" : ""}`)
          : fail(
            "invalid-policy",
            `${display(policyValue)} is neither \`fail\` nor \`skip\``,
            `export ${WorkflowLiveConfig.onMissingVariable}=fail (the default: missing things fail the lane) or ` +
              `=skip (missing variables and unreachable APIs skip it)`
          )
      )
    }

    const variables = new Set<string>([
      ...spec.env.map((e) => e.variable),
      ...spec.http.flatMap((h) => [h.urlVariable, ...(h.auth === undefined ? [] : [h.auth.variable])])
    ])
    variables.delete(dsnVariable)
    const values = new Map<string, Option.Option<string>>()
    for (const variable of variables) {
      const value = yield* Config.option(Config.string(variable))
      values.set(variable, Option.filter(value, (v) => v.trim().length > 0))
    }
    const laneConfig = yield* WorkflowLiveConfig.config
    const dsn = guardOptions.variable === undefined
      ? laneConfig.dsn
      : yield* Config.option(Config.redacted(dsnVariable)).pipe(
        Config.map(Option.filter((value) => Redacted.value(value).trim().length > 0))
      )
    values.set(dsnVariable, Option.map(dsn, Redacted.value))

    const secretVariables = new Set([
      ...spec.env.filter((e) => e.secret).map((e) => e.variable),
      ...spec.http.flatMap((h) => (h.auth === undefined ? [] : [h.auth.variable]))
    ])
    const secrets = [
      ...[...secretVariables].filter((v) => v !== dsnVariable).flatMap((v) => Option.toArray(values.get(v) ?? Option.none())),
      ...Option.match(dsn, { onNone: () => [], onSome: (value) => secretsOf(Redacted.value(value)) }),
      ...[...values.values()].flatMap((value) => {
        // a password written into an API URL is a secret too
        try {
          return Option.isSome(value) && new URL(value.value).password !== "" ? [new URL(value.value).password] : []
        } catch {
          return []
        }
      })
    ]

    const replay = options.replay
    const apiVariables = new Set(spec.http.flatMap((h) => [h.urlVariable, ...(h.auth === undefined ? [] : [h.auth.variable])]))
    // in replay an API variable may be unset: the recorder gives the code under test a placeholder
    const checkEnv = (requirement: EnvRequirement, value: Option.Option<string>): Check =>
      replay !== undefined && apiVariables.has(requirement.variable) && Option.isNone(value)
        ? { check: `env ${requirement.variable}`, kind: "env", run: Effect.succeed(pass("not set: not needed in replay")) }
        : envCheck(requirement, value)
    const envChecks = spec.env.map((requirement) => checkEnv(requirement, values.get(requirement.variable)!))
    // env checks are synchronous: their outcomes gate the HTTP probes (no URL, no probe)
    const envOutcomes = new Map<string, Outcome & { readonly value: Option.Option<string> }>()
    for (const variable of variables) {
      const requirement = spec.env.find((e) => e.variable === variable) ??
        { variable, required: true, secret: secretVariables.has(variable), description: variable, example: "..." }
      const outcome = yield* checkEnv(requirement, values.get(variable)!).run
      envOutcomes.set(variable, { ...outcome, value: values.get(variable)! })
    }

    const rows = yield* Effect.scoped(Effect.gen(function*() {
      // a probe carries only what the spec says: no trace headers
      const client = HttpClient.withTracerPropagation(yield* HttpClient.HttpClient, false)
      const httpChecks = spec.http.map((requirement) =>
        replay === undefined ? httpCheck(requirement, envOutcomes, client) : replayCheck(requirement, replay)
      )
      const dbChecks = spec.database === undefined ? [] : yield* databaseChecks(
        spec.database,
        dsn,
        spec.env.some((e) => e.variable === dsnVariable),
        { developmentDsnSet: laneConfig.developmentDsnSet, driverDefaults: laneConfig.driverDefaults },
        guardOptions
      )
      return yield* Effect.all([policyCheck, ...envChecks, ...dbChecks, ...httpChecks].map(timed), {
        concurrency: "unbounded"
      })
    })).pipe(Effect.provide(NodeHttpClient.layer))

    const finalRows = rows.map((entry) => toRow(entry, policy, secrets))
    const verdict = finalRows.some((row) => row.status === "fail")
      ? "fail"
      : finalRows.some((row) => row.status === "skipped")
      ? "skip"
      : "pass"
    const skipped = finalRows.filter((row) => row.status === "skipped" && row.reason !== "not-checked")
    const report: Report = {
      verdict,
      policy,
      startedAt,
      durationMs: Math.round(now() - started),
      rows: finalRows,
      skipReason: verdict === "skip"
        ? `${WorkflowLiveConfig.onMissingVariable}=skip and ${
          skipped.map((row) => `${row.check}: ${row.found}`).join("; ")
        }`
        : undefined,
      file: undefined
    }
    const reportDir = options.reportDir ?? Option.getOrElse(yield* WorkflowLiveConfig.reportDir, () => ".workflow-live")
    return reportDir === false ? report : writeReport(report, reportDir)
  })

/** Writes the report as JSON to `<dir>/preflight.json`; a write failure is noted, never fatal. */
const writeReport = (report: Report, dir: string): Report => {
  const file = resolvePath(dir, "preflight.json")
  const withFile: Report = { ...report, file }
  try {
    mkdirSync(resolvePath(dir), { recursive: true })
    writeFileSync(file, `${JSON.stringify(withFile, null, 2)}\n`)
    return withFile
  } catch {
    return report
  }
}

/** Runs the checks; fails with {@link PreflightError} when the verdict is `fail`. */
export const make = (options: Options = {}): Effect.Effect<Report, PreflightError | ConfigError> =>
  Effect.flatMap(check(options), (report) =>
    report.verdict === "fail"
      ? Effect.fail(new PreflightError({ reason: "checks-failed", report }))
      : Effect.succeed(report))

/** Runs the preflight when built and provides its report; fails the layer when the verdict is `fail`. */
export const layer = (options: Options = {}): Layer.Layer<Preflight, PreflightError | ConfigError> =>
  Layer.effect(Preflight, Effect.map(make(options), (report) => ({ report })))

/**
 * The identity check on the lane's connection, for after the reset (before it, the workflow database may
 * not exist). Never skippable.
 */
export const checkIdentity = (
  target: DsnGuard.VerifiedTarget,
  options: { readonly timeout?: Duration.DurationInput | undefined } = {}
): Effect.Effect<Report, PreflightError> =>
  Effect.gen(function*() {
    const startedAt = new Date().toISOString()
    const entry = yield* timed({
      check: "database identity",
      kind: "database",
      run: laneIdentity(target, Duration.decode(options.timeout ?? Duration.seconds(10)))
    })
    const row = toRow(entry, "fail", [])
    const report: Report = {
      verdict: row.status === "pass" ? "pass" : "fail",
      policy: "fail",
      startedAt,
      durationMs: row.durationMs,
      rows: [row],
      skipReason: undefined,
      file: undefined
    }
    return report.verdict === "pass" ? report : yield* new PreflightError({ reason: "checks-failed", report })
  })

/** Whether to colour output for a stream: only a TTY, and never when `NO_COLOR` is set (https://no-color.org). */
export const colourFor = (stream: { readonly isTTY?: boolean | undefined }): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

const ansi = (code: string, on: boolean) => (text: string): string => on ? `\u001b[${code}m${text}\u001b[0m` : text

/** The report as a table for a terminal. */
export const render = (report: Report, options: { readonly colour: boolean }): string => {
  const bold = ansi("1", options.colour)
  const paint = (status: Status | Report["verdict"]): (text: string) => string =>
    status === "pass" ? ansi("32", options.colour) : status === "fail" ? ansi("31;1", options.colour) : ansi("33", options.colour)
  const label = (status: Status): string => status === "pass" ? "pass" : status === "fail" ? "FAIL" : "skipped"
  const failed = report.rows.filter((row) => row.status === "fail").length
  const skipped = report.rows.filter((row) => row.status === "skipped").length
  const verdict = report.verdict === "pass" ? "PASS" : report.verdict === "fail" ? "FAIL" : "SKIPPED"
  const width = Math.max(...report.rows.map((row) => row.check.length), 5)
  const lines = [
    `${bold("workflow-live preflight:")} ${paint(report.verdict)(verdict)}  ` +
    `(${report.rows.length} checks, ${failed} failed, ${skipped} skipped, ${report.durationMs} ms; ` +
    `${WorkflowLiveConfig.onMissingVariable}=${report.policy})`,
    "",
    `  ${bold(`${"status".padEnd(8)}${"check".padEnd(width + 2)}${"time".padStart(7)}  found`)}`
  ]
  for (const row of report.rows) {
    const reason = row.reason === undefined || row.reason === "not-checked" ? "" : ` [${row.reason}]`
    lines.push(
      `  ${paint(row.status)(label(row.status).padEnd(8))}${row.check.padEnd(width + 2)}` +
        `${`${row.durationMs} ms`.padStart(7)}  ${row.found}${reason}`
    )
    // a row that was not checked is fixed by fixing the row it waits for
    if (row.status !== "pass" && row.reason !== "not-checked" && row.fix !== undefined) {
      lines.push(`  ${" ".repeat(8 + width + 2 + 7)}  fix: ${row.fix}`)
    }
  }
  if (report.skipReason !== undefined) {
    lines.push("", paint("skip")(`  The lane is SKIPPED: ${report.skipReason}`))
  }
  lines.push("", `  Report (JSON): ${report.file ?? "not written"}`)
  return lines.join("\n")
}
