/**
 * Preflight: everything the live lane needs (env variables, the database, the external APIs its
 * workflows call) checked at once, concurrently, each check bounded by its own timeout, so that a
 * user with three problems learns all three from one run. The requirements are data (a {@link Spec});
 * the result is a {@link Report} with one row per check, rendered for a terminal and written as JSON.
 * One rule ({@link decide}) turns the rows into the verdict, for every entry point alike.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Data, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as DsnGuard from "./DsnGuard.js"
import { fixFor } from "./internal/pgError.js"
import * as Database from "./internal/preflightDatabase.js"
import * as Probes from "./internal/preflightProbes.js"
import * as Reporting from "./internal/preflightReport.js"
import * as Steps from "./internal/preflightSteps.js"
import * as LaneDatabase from "./LaneDatabase.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

// ---------------------------------------------------------------------------------------------------
// Requirements as data
// ---------------------------------------------------------------------------------------------------

/** An env variable the suite reads. */
export type EnvRequirement = Probes.EnvRequirement

/** An external HTTP API the workflows call, probed with one request. */
export type HttpRequirement = Probes.HttpRequirement

/** What the lane needs from the PostgreSQL server behind `TENDERBOT_WORKFLOW_DB_DSN`. */
export type DatabaseRequirement = Database.DatabaseRequirement

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
export type Status = Reporting.Status

/** What a row checked. */
export type Kind = Reporting.Kind

/** Every row reason, for docs and tests. */
export const reasons: typeof Reporting.reasons = Reporting.reasons

/** Why a row did not pass. */
export type Reason = Reporting.Reason

/** One check's result. Every text is already free of secrets. */
export type Row = Reporting.Row

/** The whole preflight: one row per check, and what it means for the lane. */
export type Report = Reporting.Report

/**
 * Whether `WORKFLOW_LIVE_ON_MISSING=skip` may skip a failed row: a variable that is not set (the DSN
 * too), or an external API that cannot be reached. A guard refusal, a malformed value, bad credentials
 * and every database problem always fail.
 */
export const isSkippable: (kind: Kind, reason: Reason | undefined) => boolean = Reporting.isSkippable

/** The verdict from the rows, the one rule `workflow-live preflight`, `run` and the Vitest start share. */
export const decide: (
  rows: ReadonlyArray<Row>,
  policy: WorkflowLiveConfig.OnMissing
) => { readonly verdict: Report["verdict"]; readonly skipReason: string | undefined } = Reporting.decide

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
// The checks, in steps (1-3, and the timing of a check, in internal/preflightSteps.ts)
// ---------------------------------------------------------------------------------------------------

/** Step 4: the database rows' inputs: the guard's verdict and how to reach the server. */
const databaseInputs = (
  read: Steps.Values<WorkflowLiveConfig.WorkflowLiveConfig>,
  spec: Spec,
  dsnVariable: string,
  guard: DsnGuard.Options
) =>
  Effect.map(
    Effect.either(DsnGuard.verify(read.dsn, {
      developmentDsnSet: read.laneConfig.developmentDsnSet,
      driverDefaults: read.laneConfig.driverDefaults
    }, guard)),
    (verdict): Database.Inputs => ({
      verdict,
      variable: dsnVariable,
      dsnCovered: spec.env.some((e) => e.variable === dsnVariable),
      developmentDsnSet: read.laneConfig.developmentDsnSet,
      open: (database, timeout) =>
        Either.isRight(verdict)
          ? Effect.map(
            // catalog reads only (the maintenance database, the workflow database's inventory)
            LaneDatabase.open(verdict.right, { database, maxConnections: 1, connectTimeout: timeout, catalogOnly: true }),
            (pg) => pg as SqlClient.SqlClient
          )
          : Effect.dieMessage("no verified target"),
      laneIdentity: (timeout) => Either.isRight(verdict) ? laneIdentity(verdict.right, timeout) : Effect.die("no verified target"),
      confirmDrop: Option.getOrUndefined(read.laneConfig.confirmDrop)
    })
  )

/** Runs every check of the spec concurrently and applies the on-missing policy; check failures are rows, not errors. */
export const check = (options: Options = {}): Effect.Effect<Report, ConfigError> =>
  Effect.gen(function*() {
    const startedAt = new Date().toISOString()
    const spec = options.spec ?? defaultSpec
    const guard = options.guard ?? {}
    const dsnVariable = guard.variable ?? WorkflowLiveConfig.dsnVariable
    const [took, { policy, rows }] = yield* Effect.timed(Effect.gen(function*() {
      const { check: policyCheck, policy } = yield* Steps.readPolicy(options.onMissing, WorkflowLiveConfig.onMissing)
      const read = yield* Steps.readValues(spec, dsnVariable, guard, WorkflowLiveConfig.config)
      const env = yield* Steps.envOutcomes(spec, read, options.replay)
      const entries = yield* Effect.scoped(Effect.gen(function*() {
        // a probe carries only what the spec says: no trace headers
        const client = HttpClient.withTracerPropagation(yield* HttpClient.HttpClient, false)
        const inputs = spec.database === undefined ? undefined : yield* databaseInputs(read, spec, dsnVariable, guard)
        const dbChecks = spec.database === undefined || inputs === undefined ? [] : yield* Database.databaseChecks(spec.database, inputs)
        // the DSN variable's row says why TENDERBOT_DB_DSN, set, is not borrowed (the guard's row then skips)
        const borrowNote = inputs !== undefined && Either.isLeft(inputs.verdict) && inputs.verdict.left.reason === "missing-dsn" &&
            read.laneConfig.developmentDsnSet
          ? inputs.verdict.left.detail
          : undefined
        const withNote = (check: Probes.Check): Probes.Check =>
          borrowNote === undefined || check.check !== `env ${dsnVariable}`
            ? check
            : {
              ...check,
              run: Effect.map(check.run, (o) => o.status === "fail" ? { ...o, found: `${o.found}: ${borrowNote}` } : o)
            }
        const checks = [
          policyCheck,
          ...spec.env.map((requirement) => withNote(Steps.envCheck(spec, options.replay)(requirement, read.values.get(requirement.variable)!))),
          ...dbChecks,
          ...spec.http.map((requirement) =>
            options.replay === undefined ? Probes.httpCheck(requirement, env, client) : Steps.replayCheck(options.replay)(requirement)
          )
        ]
        return yield* Effect.all(checks.map(Steps.timed), { concurrency: "unbounded" })
      })).pipe(Effect.provide(NodeHttpClient.layer))
      return { policy, rows: entries.map((entry) => Reporting.toRow(entry, policy, read.secrets)) }
    }))
    const report: Report = {
      ...decide(rows, policy),
      policy,
      startedAt,
      durationMs: Math.round(Duration.toMillis(took)),
      rows,
      file: undefined
    }
    const reportDir = options.reportDir ?? Option.getOrElse(yield* WorkflowLiveConfig.reportDir, () => ".workflow-live")
    return reportDir === false ? report : Reporting.writeReport(report, reportDir)
  })

/** Runs the checks; fails with {@link PreflightError} when the verdict is `fail`. */
export const make = (options: Options = {}): Effect.Effect<Report, PreflightError | ConfigError> =>
  Effect.flatMap(check(options), (report) =>
    report.verdict === "fail"
      ? Effect.fail(new PreflightError({ reason: "checks-failed", report }))
      : Effect.succeed(report))

/** Runs the preflight when built and provides its report; fails the layer when the verdict is `fail`. */
export const layer = (options: Options = {}): Layer.Layer<Preflight, PreflightError | ConfigError> =>
  Layer.effect(Preflight, Effect.map(make(options), (report) => ({ report })))

/** Opens the lane's own connection (the fields the tests use) and checks `current_database()` on it. */
const laneIdentity = (target: DsnGuard.VerifiedTarget, timeout: Duration.Duration): Effect.Effect<Reporting.Outcome> =>
  // building the lane's layer opens its connection and checks its identity, as the suites' will
  Layer.build(
    LaneDatabase.layer({ maxConnections: 1, connectTimeout: timeout }).pipe(
      Layer.provide(Layer.succeed(DsnGuard.VerifiedTarget, target))
    )
  ).pipe(
    Effect.scoped,
    Effect.map(() => Reporting.pass(`current_database() = \`${target.database}\` on the lane's connection`)),
    Effect.catchAll((error): Effect.Effect<Reporting.Outcome> =>
      Effect.succeed(
        error.reason === "identity-mismatch"
          ? Reporting.fail(
            "identity-mismatch",
            `the lane's connection reports current_database() = \`${error.actual}\`, not \`${error.expected}\``,
            `point ${WorkflowLiveConfig.dsnVariable} straight at the server holding \`${error.expected}\`, not ` +
              `through a pooler or proxy that remaps database names`
          )
          : Reporting.fail(
            Database.databaseProblem(error.reason),
            `cannot open \`${target.database}\` on ${error.where}: ${error.detail}`,
            fixFor(error.reason, error.where, error.user, error.expected, error.code)
          )
      )
    )
  )

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
    const entry = yield* Steps.timed({
      check: "database identity",
      kind: "database",
      run: laneIdentity(target, Duration.decode(options.timeout ?? Duration.seconds(10)))
    })
    const row = Reporting.toRow(entry, "fail", [])
    const report: Report = {
      ...decide([row], "fail"),
      policy: "fail",
      startedAt,
      durationMs: row.durationMs,
      rows: [row],
      file: undefined
    }
    return report.verdict === "pass" ? report : yield* new PreflightError({ reason: "checks-failed", report })
  })

/** Whether to colour output for a stream: only a TTY, and never when `NO_COLOR` is set (https://no-color.org). */
export const colourFor = (stream: { readonly isTTY?: boolean | undefined }): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

/** The report as a table for a terminal. */
export const render: (report: Report, options: { readonly colour: boolean }) => string = Reporting.render
