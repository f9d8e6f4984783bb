/**
 * The DSN guard: the only way to obtain a {@link VerifiedTarget}, which every destructive operation
 * requires. It resolves the database exactly as the driver would (same parser, same fallbacks) and
 * accepts one name only, before any connection is opened.
 */
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { parse } from "pg-connection-string"
import { maskDsn, scrub, secretsOf } from "./internal/redact.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

const TypeId: unique symbol = Symbol.for("workflow-live/VerifiedTarget")

/** A DSN the guard accepted. Only {@link verify} creates one; destructive operations check that it did. */
export interface VerifiedTarget {
  readonly [TypeId]: typeof TypeId
  /** The database the driver connects to: always the configured workflow database. */
  readonly database: string
  readonly host: string
  readonly port: number
  readonly user: string
  /** Whether the DSN carries a password (its value is only in {@link connection}). */
  readonly passwordSet: boolean
  /** The DSN with its password masked, for display. */
  readonly masked: string
  /** Explicit connection fields, so nothing (not `PGDATABASE`, not a URL quirk) can change the database. */
  readonly connection: {
    readonly host: string
    readonly port: number
    readonly user: string
    readonly password: Redacted.Redacted<string> | undefined
    readonly database: string
    readonly ssl: boolean | object | undefined
  }
}

/** The tag under which a suite's layers find the verified target. */
export const VerifiedTarget: Context.Tag<VerifiedTarget, VerifiedTarget> = Context.GenericTag<VerifiedTarget>(
  "workflow-live/VerifiedTarget"
)

// A runtime brand as well as a type brand: a cast object is not in this set.
const issued = new WeakSet<object>()

/** True only for targets produced by {@link verify} in this process. */
export const isVerifiedTarget = (u: unknown): u is VerifiedTarget =>
  typeof u === "object" && u !== null && issued.has(u)

/** Why the guard refused a DSN. */
export type DsnGuardReason =
  | "missing-dsn"
  | "not-a-url"
  | "unparseable"
  | "no-database"
  | "development-database"
  | "unit-test-database"
  | "server-database"
  | "lookalike-database"
  | "not-workflow-database"

/** Every refusal reason, for docs and tests. */
export const reasons: ReadonlyArray<DsnGuardReason> = [
  "missing-dsn",
  "not-a-url",
  "unparseable",
  "no-database",
  "development-database",
  "unit-test-database",
  "server-database",
  "lookalike-database",
  "not-workflow-database"
]

/** The guard refused the DSN; nothing was connected to. */
export class DsnGuardError extends Data.TaggedError("DsnGuardError")<{
  readonly reason: DsnGuardReason
  /** The variable the DSN came from. */
  readonly variable: string
  /** The DSN as displayed: password masked. Absent when no DSN was given. */
  readonly masked: string | undefined
  /** The database the driver would connect to, when one could be resolved. */
  readonly database: string | undefined
  /** The only database the lane accepts. */
  readonly expected: string
  /** A reason-specific explanation (which character, which fallback, ...). */
  readonly detail: string
  /** A corrected DSN to copy, password replaced by a placeholder. */
  readonly example: string
  /** Secrets to keep out of the message. */
  readonly secrets: ReadonlyArray<string>
}> {
  override get message(): string {
    const why =
      `the workflow-live lane drops and recreates its database on every run, so it only ever connects to ` +
      `\`${this.expected}\`, never to a database that may hold anybody's data.`
    const lines = [
      `${this.variable} refused (${this.reason}): ${headline(this)}`,
      ...(this.masked === undefined ? [] : [`  DSN:    ${this.masked}`]),
      ...(this.detail === "" ? [] : [`  Detail: ${this.detail}`]),
      `  Why:    ${why}`,
      `  Fix:    export ${this.variable}='${this.example}'`
    ]
    return scrub(lines.join("\n"), this.secrets)
  }
}

const headline = (e: DsnGuardError): string => {
  switch (e.reason) {
    case "missing-dsn":
      return `${e.variable} is not set.`
    case "not-a-url":
      return `the DSN is not a postgres://, postgresql:// or socket: URL.`
    case "unparseable":
      return `the DSN cannot be parsed as a URL.`
    case "no-database":
      return `the DSN names no database.`
    case "development-database":
      return `it points at \`${e.database}\`, the development database.`
    case "unit-test-database":
      return `it points at \`${e.database}\`, the unit and integration test database.`
    case "server-database":
      return `it points at \`${e.database}\`, a database the PostgreSQL server itself relies on.`
    case "lookalike-database":
      return `it points at \`${e.database}\`, which only looks like a known database name.`
    case "not-workflow-database":
      return `it points at \`${e.database}\`, which is not the workflow database \`${e.expected}\`.`
  }
}

/** Options that let another project reuse the guard with its own names. */
export interface Options {
  /** The one database the lane may reset. Default `tenderbot_workflow_test`. */
  readonly database?: string | undefined
  /** Databases refused by name, with the role that explains why. */
  readonly protectedDatabases?: ReadonlyArray<{ readonly name: string; readonly role: "development" | "unit-test" }>
  /** The variable named in messages. Default `TENDERBOT_WORKFLOW_DB_DSN`. */
  readonly variable?: string | undefined
}

const defaultProtected: NonNullable<Options["protectedDatabases"]> = [
  { name: "tenderbot", role: "development" },
  { name: "tenderbot_test", role: "unit-test" }
]

const serverDatabases = ["postgres", "template0", "template1"]

const acceptedSchemes = ["postgres:", "postgresql:", "socket:"]

// Letters from other scripts that render like Latin ones, and invisible characters.
const confusables: Record<string, string> = {
  "а": "a",
  "е": "e",
  "о": "o",
  "р": "p",
  "с": "c",
  "х": "x",
  "у": "y",
  "і": "i",
  "ј": "j",
  "ѕ": "s",
  "ԁ": "d",
  "ɡ": "g",
  "ο": "o",
  "α": "a",
  "ε": "e",
  "ι": "i",
  "κ": "k",
  "ν": "v",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "-": "_",
  "‐": "_",
  "–": "_",
  "—": "_",
  "ı": "i"
}

const fold = (name: string): string =>
  [...name.normalize("NFKC").trim().toLowerCase()]
    .filter((ch) => !/[\u200B-\u200D\u2060\uFEFF\u00AD]/.test(ch))
    .map((ch) => confusables[ch] ?? ch)
    .join("")

const describeCodePoints = (name: string): string => {
  const odd = [...name].filter((ch) => !/[a-z0-9_]/.test(ch))
  return odd.length === 0
    ? ""
    : `it contains ${
      [...new Set(odd)].map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")} ${JSON.stringify(ch)}`)
        .join(", ")
    }`
}

/** The DSN the user should set, built from theirs with the database replaced and no password. */
const exampleDsn = (raw: string | undefined, database: string): string => {
  const fallback = `postgres://postgres@127.0.0.1:5432/${database}`
  if (raw === undefined || !/^postgres(ql)?:\/\//i.test(raw.trim())) return fallback
  try {
    const url = new URL(raw.trim())
    if (url.password !== "") url.password = "PASSWORD"
    url.pathname = `/${database}`
    url.hash = ""
    for (const key of [...url.searchParams.keys()]) {
      if (/^(password|database|dbname|db)$/i.test(key)) url.searchParams.delete(key)
    }
    return url.href.length > 160 ? fallback : url.href
  } catch {
    return fallback
  }
}

interface Resolved {
  readonly database: string | null
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
  readonly ssl: boolean | object | undefined
}

const resolve = (raw: string, defaults: WorkflowLiveConfig.DriverDefaults): Resolved => {
  const parsed = parse(raw)
  const pick = (value: string | null | undefined, fallback: Option.Option<string>, last: string): string =>
    value !== null && value !== undefined && value !== "" ? value : Option.getOrElse(fallback, () => last)
  const port = Number(pick(parsed.port, defaults.port, "5432"))
  return {
    database: parsed.database ?? null,
    host: pick(parsed.host, defaults.host, "localhost"),
    port: Number.isFinite(port) ? port : 5432,
    user: pick(parsed.user, defaults.user, ""),
    password: parsed.password ? parsed.password : undefined,
    ssl: parsed.ssl as boolean | object | undefined
  }
}

/**
 * Checks a DSN and returns the verified target, or the reason it is refused. No connection is opened.
 */
export const verify = (
  dsn: Option.Option<Redacted.Redacted<string>>,
  context: {
    readonly developmentDsnSet?: boolean | undefined
    readonly driverDefaults?: WorkflowLiveConfig.DriverDefaults | undefined
  } = {},
  options: Options = {}
): Effect.Effect<VerifiedTarget, DsnGuardError> =>
  Effect.suspend(() => {
    const expected = options.database ?? WorkflowLiveConfig.workflowDatabase
    const variable = options.variable ?? WorkflowLiveConfig.dsnVariable
    const protectedDatabases = options.protectedDatabases ?? defaultProtected
    const defaults = context.driverDefaults ?? {
      host: Option.none(),
      port: Option.none(),
      user: Option.none(),
      database: Option.none()
    }
    const raw = Option.map(dsn, Redacted.value).pipe(Option.getOrUndefined)
    const secrets = raw === undefined ? [] : secretsOf(raw)
    const refuse = (
      reason: DsnGuardReason,
      detail: string,
      database?: string
    ): Effect.Effect<never, DsnGuardError> =>
      Effect.fail(
        new DsnGuardError({
          reason,
          variable,
          masked: raw === undefined ? undefined : maskDsn(raw),
          database,
          expected,
          detail,
          example: exampleDsn(raw, expected),
          secrets
        })
      )

    if (raw === undefined) {
      return refuse(
        "missing-dsn",
        context.developmentDsnSet
          ? `${WorkflowLiveConfig.developmentDsnVariable} is set, but the lane never borrows it: it points at ` +
            `the development database, and this lane drops and recreates its database. Set ` +
            `${variable} explicitly, to a DSN for \`${expected}\`.`
          : `the lane reads its database from ${variable} only (no fallback to ` +
            `${WorkflowLiveConfig.developmentDsnVariable}).`
      )
    }

    const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(raw)?.[1]?.toLowerCase()
    if (scheme === undefined || !acceptedSchemes.includes(scheme)) {
      const detail = raw !== raw.trim()
        ? "it has leading or trailing whitespace; remove it."
        : raw.startsWith("/")
        ? "a bare socket path is not accepted; write it as socket:/path/to/dir?db=NAME."
        : /^\s*\w+\s*=/.test(raw)
        ? "it looks like a libpq key/value string (host=... dbname=...); the driver does not parse " +
          "those: it would take the whole string as the database name. Use the URL form."
        : scheme !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) && /^[^:]+:\d/.test(raw)
        ? "it has no scheme (host:port/...); the driver would resolve it against postgres://base."
        : scheme !== undefined
        ? `the scheme is \`${scheme}\`; use postgres:// (or postgresql://, socket:).`
        : "it has no scheme; the driver would resolve it against postgres://base and connect to the wrong place."
      return refuse("not-a-url", detail)
    }

    let resolved: Resolved
    try {
      resolved = resolve(raw, defaults)
    } catch (cause) {
      const why = cause instanceof Error && /invalid url/i.test(cause.message)
        ? "the URL is malformed (a bad port, or a password with / ? # that is not percent-encoded)."
        : "pg-connection-string rejected it."
      return refuse("unparseable", `${why} Percent-encode special characters in the password.`)
    }

    if (resolved.database === null || resolved.database === "") {
      const fallback = Option.isSome(defaults.database)
        ? `PGDATABASE (\`${defaults.database.value}\`)`
        : resolved.user !== ""
        ? `the user name (\`${resolved.user}\`)`
        : "the user name"
      return refuse(
        "no-database",
        `with no database in the DSN the driver silently falls back to ${fallback}; the lane requires the ` +
          `database to be named in the DSN itself.`
      )
    }

    const database = resolved.database
    const guarded = protectedDatabases.find((p) => p.name === database)
    if (guarded !== undefined) {
      return refuse(
        guarded.role === "development" ? "development-database" : "unit-test-database",
        guarded.role === "development"
          ? "resetting it would destroy your local development data."
          : "it belongs to the unit and integration lanes; resetting it would break their runs.",
        database
      )
    }
    if (serverDatabases.includes(database)) {
      return refuse(
        "server-database",
        "it is the server's maintenance or template database; dropping it would break the server.",
        database
      )
    }
    if (database !== expected) {
      const known = [expected, ...protectedDatabases.map((p) => p.name), ...serverDatabases]
      const lookalike = known.find((name) => fold(name) === fold(database))
      if (lookalike !== undefined) {
        const odd = describeCodePoints(database)
        return refuse(
          "lookalike-database",
          `\`${database}\` is not \`${lookalike}\`: database names are exact and case-sensitive` +
            (odd === "" ? "." : `; ${odd}.`),
          database
        )
      }
      return refuse(
        "not-workflow-database",
        `the lane only resets \`${expected}\`.`,
        database
      )
    }

    const connection = {
      host: resolved.host,
      port: resolved.port,
      user: resolved.user,
      password: resolved.password === undefined ? undefined : Redacted.make(resolved.password),
      database,
      ssl: resolved.ssl
    }
    const target: VerifiedTarget = {
      [TypeId]: TypeId,
      database,
      host: resolved.host,
      port: resolved.port,
      user: resolved.user,
      passwordSet: resolved.password !== undefined,
      masked: maskDsn(raw),
      connection
    }
    issued.add(target)
    return Effect.succeed(target)
  })

/** Verifies the DSN from the lane's config. */
export const make = (
  options: Options = {}
): Effect.Effect<VerifiedTarget, DsnGuardError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Effect.flatMap(WorkflowLiveConfig.WorkflowLiveConfig, (config) =>
    verify(config.dsn, { developmentDsnSet: config.developmentDsnSet, driverDefaults: config.driverDefaults }, options))

/** Provides the verified target, from the config in context. */
export const layer = (
  options: Options = {}
): Layer.Layer<VerifiedTarget, DsnGuardError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Layer.effect(VerifiedTarget, make(options))

/** Provides the verified target, reading the config from the environment. */
export const layerConfig = (options: Options = {}): Layer.Layer<VerifiedTarget, DsnGuardError | ConfigError> =>
  layer(options).pipe(Layer.provide(WorkflowLiveConfig.layerConfig))

/** Fails with a defect unless the value came from {@link verify}: the runtime half of the brand. */
export const assertVerified = (target: VerifiedTarget): Effect.Effect<VerifiedTarget> =>
  isVerifiedTarget(target)
    ? Effect.succeed(target)
    : Effect.dieMessage("workflow-live: a destructive operation was given a target that DsnGuard did not verify")

/** A one-screen description of where the lane points, for `workflow-live target`. */
export const describe = (target: VerifiedTarget): string =>
  [
    `  DSN:      ${target.masked}`,
    `  Host:     ${target.host}`,
    `  Port:     ${target.port}`,
    `  User:     ${target.user === "" ? "(driver default)" : target.user}`,
    `  Password: ${target.passwordSet ? "set (hidden)" : "not in the DSN (the driver may use PGPASSWORD)"}`,
    `  Database: ${target.database}`
  ].join("\n")
