/**
 * The DSN guard: the only way to obtain a {@link VerifiedTarget}, which every destructive operation
 * requires. It resolves the database exactly as the driver would (same parser, same fallbacks) and
 * accepts one name only, before any connection is opened.
 */
import { Context, Data, Effect, Either, Layer, Option, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { type Honoured, honour } from "./internal/dsnParameters.js"
import { parseParts, PortError, type Resolved, unparseableDetail } from "./internal/dsnResolve.js"
import { differences, driverTrim, exampleDsn, fold, notAUrlDetail, preview } from "./internal/dsnText.js"
import { hasStrayAt, maskDsn, scrub, secretsOf, showInvisible, truncate } from "./internal/redact.js"
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
  /** The TLS the lane's connections use, in words (from `sslmode`, interpreted by the guard). */
  readonly tls: string
  /** Explicit connection fields, so nothing (not `PGDATABASE`, not a URL quirk) can change the database. */
  readonly connection: {
    readonly host: string
    readonly port: number
    readonly user: string
    readonly password: Redacted.Redacted<string> | undefined
    readonly database: string
    readonly ssl: boolean | object | undefined
    /** The DSN's session settings the driver honours (`options`, `statement_timeout`, ...): carried onto every connection. */
    readonly driverOptions: Readonly<Record<string, string>>
    /** `connect_timeout` from the DSN, in milliseconds. */
    readonly connectTimeoutMillis: number | undefined
    /** `keepalives` / `keepalives_idle` from the DSN. */
    readonly keepAlive: boolean | undefined
    readonly keepAliveIdleMillis: number | undefined
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

/** Every refusal reason, for docs and tests. */
export const reasons = [
  "missing-dsn",
  "not-a-url",
  "unparseable",
  "no-database",
  "conflicting-database",
  "development-database",
  "unit-test-database",
  "server-database",
  "lookalike-database",
  "not-workflow-database",
  "unsupported-parameter",
  "unsupported-sslmode"
] as const

/** Why the guard refused a DSN. */
export type DsnGuardReason = typeof reasons[number]

/** The guard refused the DSN; nothing was connected to. */
export class DsnGuardError extends Data.TaggedError("DsnGuardError")<{
  readonly reason: DsnGuardReason
  /** The variable the DSN came from. */
  readonly variable: string
  /**
   * The DSN as displayed: password masked; a value that is not a URL at all only as its length and a
   * preview. Absent when no DSN was given.
   */
  readonly masked: string | undefined
  /**
   * The database the driver would connect to, when one could be resolved (for `no-database`, the
   * fallback it would use).
   */
  readonly database: string | undefined
  /** The only database the lane accepts. */
  readonly expected: string
  /** A reason-specific explanation (which character, which fallback, ...). */
  readonly detail: string
  /** A corrected DSN to copy, password replaced by a placeholder. */
  readonly example: string
  /** Secrets to keep out of the message; `Redacted`, so no serialisation or inspection shows them. */
  readonly secrets: Redacted.Redacted<ReadonlyArray<string>>
}> {
  override get message(): string {
    const why = ["conflicting-database", "unsupported-parameter", "unsupported-sslmode"].includes(this.reason)
      ? `the lane connects exactly as the DSN says (the database it names, every setting it gives, the TLS it ` +
        `asks for) or not at all: a DSN that tools read two ways could send the lane's writes where you did not mean.`
      : `the workflow-live lane drops and recreates its database on every run, so it only ever connects to ` +
        `\`${this.expected}\`, never to a database that may hold anybody's data.`
    const lines = [
      `${this.variable} refused (${this.reason}): ${headline(this)}`,
      ...(this.masked === undefined ? [] : [`  DSN:    ${this.masked}`]),
      ...(this.detail === "" ? [] : [`  Detail: ${this.detail}`]),
      `  Why:    ${why}`,
      `  Fix:    export ${this.variable}='${this.example}'`
    ]
    return scrub(lines.join("\n"), Redacted.value(this.secrets))
  }
}

/** A database name as shown in a message: invisible characters escaped, long names shortened. */
const shown = (name: string | undefined): string => showInvisible(truncate(name ?? "", 80))

const headline = (e: DsnGuardError): string => {
  switch (e.reason) {
    case "missing-dsn":
      return `${e.variable} is not set.`
    case "not-a-url":
      return `the DSN is not a postgres://, postgresql:// or socket: URL.`
    case "unparseable":
      return `the DSN is not a well-formed URL; the driver would not connect where it seems to say.`
    case "no-database":
      return `the DSN names no database.`
    case "conflicting-database":
      return `the DSN names two databases: \`${shown(e.database)}\` in its path and another in its query string.`
    case "development-database":
      return `it points at \`${shown(e.database)}\`, the development database.`
    case "unit-test-database":
      return `it points at \`${shown(e.database)}\`, the unit and integration test database.`
    case "server-database":
      return `it points at \`${shown(e.database)}\`, a database the PostgreSQL server itself relies on.`
    case "lookalike-database":
      return `it points at \`${shown(e.database)}\`, which only looks like a known database name.`
    case "not-workflow-database":
      return `it points at \`${shown(e.database)}\`, which is not the workflow database \`${e.expected}\`.`
    case "unsupported-parameter":
      return `the DSN sets a parameter the lane cannot honour on its connections.`
    case "unsupported-sslmode":
      return `the DSN's sslmode does not say one TLS behaviour the lane can keep.`
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

/** What every step of {@link verify} reads. */
interface Input {
  /** The DSN as set; `undefined` when unset, empty or blank. */
  readonly raw: string | undefined
  readonly expected: string
  readonly variable: string
  readonly protectedDatabases: NonNullable<Options["protectedDatabases"]>
  readonly defaults: WorkflowLiveConfig.DriverDefaults
  readonly developmentDsnSet: boolean
}

/** A refusal, before it becomes a {@link DsnGuardError}. */
interface Refusal {
  readonly reason: DsnGuardReason
  readonly detail: string
  readonly database?: string | undefined
  readonly example?: string | undefined
}

type Checked<A> = Either.Either<A, Refusal>

const refuse = (reason: DsnGuardReason, detail: string, database?: string, example?: string): Checked<never> =>
  Either.left({ reason, detail, database, example })

/** Step 1: a DSN is set at all (an empty or blank value is an unset variable written another way). */
const present = (input: Input): Checked<string> =>
  input.raw !== undefined ? Either.right(input.raw) : refuse(
    "missing-dsn",
    input.developmentDsnSet
      ? `${WorkflowLiveConfig.developmentDsnVariable} is set, but the lane never borrows it: it points at ` +
        `the development database, and this lane drops and recreates its database. Set ` +
        `${input.variable} explicitly, to a DSN for \`${input.expected}\`.`
      : `the lane reads its database from ${input.variable} only (no fallback to ` +
        `${WorkflowLiveConfig.developmentDsnVariable}).`
  )

/** Step 2: a postgres://, postgresql:// or socket: URL that the driver splits where a reader would. */
const urlShaped = (raw: string): Checked<"socket" | "postgres"> => {
  const trimmed = driverTrim(raw)
  const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(trimmed)?.[1]?.toLowerCase()
  const isUrl = scheme === "socket:" ||
    ((scheme === "postgres:" || scheme === "postgresql:") && /^[a-z]+:\/\//i.test(trimmed))
  if (!isUrl) return refuse("not-a-url", notAUrlDetail(raw, scheme))
  if (hasStrayAt(trimmed)) {
    return refuse(
      "unparseable",
      "an `@` comes after the host part: a password (or user) containing `/`, `?` or `#` must be " +
        "percent-encoded (`/` %2F, `?` %3F, `#` %23, `@` %40), or the driver splits the URL there and " +
        "reads part of the password as host, port or database."
    )
  }
  return Either.right(scheme === "socket:" ? "socket" : "postgres")
}

/** Step 3: host, port, user, password and database, exactly as the driver resolves them. */
const resolveParts = (raw: string, input: Input): Checked<Resolved> => {
  try {
    return Either.right(parseParts(raw, input.defaults))
  } catch (cause) {
    if (cause instanceof PortError && cause.source === "PGPORT") {
      // the DSN is fine; an explicit port in it overrides the bad PGPORT
      const example = exampleDsn(raw, input.expected)
        .replace(/^(postgres(?:ql)?:\/\/[^/?#]*?)(:\d+)?(?=[/?#]|$)/i, "$1:5432")
      return refuse(
        "unparseable",
        "PGPORT is not a port number between 1 and 65535, and the DSN names no port, so the driver would " +
          "use it. Unset PGPORT, fix it, or put the port in the DSN.",
        undefined,
        example
      )
    }
    return refuse("unparseable", unparseableDetail(cause))
  }
}

/** Step 4: the DSN itself names the database; the driver's fallbacks (PGDATABASE, the user) are refused. */
const named = (raw: string, kind: "socket" | "postgres", resolved: Resolved, input: Input): Checked<string> => {
  if (resolved.database !== null && resolved.database !== "") return Either.right(resolved.database)
  // pg's ConnectionParameters: no database -> PGDATABASE -> the user name
  const fallback = Option.getOrElse(input.defaults.database, () => resolved.user)
  const source = Option.isSome(input.defaults.database) ? "PGDATABASE" : "the user name"
  const ignored = /[?&](database|dbname|db)=/i.test(raw)
    ? kind === "socket"
      ? " A socket: URL names its database with ?db=NAME."
      : " The driver ignores ?database=, ?dbname= and ?db= on a postgres:// URL: the name goes in the path."
    : ""
  return refuse(
    "no-database",
    `with no database in the DSN the driver silently falls back to ${source}` +
      (fallback === "" ? "" : ` (\`${shown(fallback)}\`)`) +
      `; the lane requires the database to be named in the DSN itself.${ignored}`,
    fallback === "" ? undefined : fallback
  )
}

/** Step 5: the one workflow database, never a protected, server or lookalike name. */
const allowed = (database: string, input: Input): Checked<string> => {
  const guarded = input.protectedDatabases.find((p) => p.name === database)
  if (guarded !== undefined) {
    return guarded.role === "development"
      ? refuse("development-database", "Resetting it would destroy your local development data.", database)
      : refuse("unit-test-database", "It belongs to the unit and integration lanes; resetting it would break their runs.", database)
  }
  if (serverDatabases.includes(database)) {
    return refuse(
      "server-database",
      "it is the server's maintenance or template database; dropping it would break the server.",
      database
    )
  }
  if (database === input.expected) return Either.right(database)
  const known = [input.expected, ...input.protectedDatabases.map((p) => p.name), ...serverDatabases]
  const lookalike = known.find((name) => fold(name) === fold(database))
  if (lookalike === undefined) return refuse("not-workflow-database", `the lane only resets \`${input.expected}\`.`, database)
  const odd = differences(database, lookalike)
  return refuse(
    "lookalike-database",
    `\`${shown(database)}\` is not \`${lookalike}\`: the driver sends the name exactly as written, and ` +
      `names are case-sensitive` + (odd === "" ? "." : `; ${odd}.`),
    database
  )
}

/** Step 6: every query parameter carried onto the lane's connections, or refused (see dsnParameters). */
const honoured = (raw: string, kind: "socket" | "postgres", database: string): Checked<Honoured> => {
  const outcome = honour(raw, database, kind === "socket")
  return "reason" in outcome ? refuse(outcome.reason, outcome.detail, database) : Either.right(outcome)
}

/** The accepted target: the only place one is made. */
const issue = (raw: string, resolved: Resolved, database: string, params: Honoured): VerifiedTarget => {
  const ssl = params.ssl(resolved.ssl)
  if (ssl !== null && typeof ssl === "object" && "key" in ssl) {
    // a client key read from `sslkey`: kept for the driver, hidden from serialisation and inspection
    Object.defineProperty(ssl, "key", { enumerable: false })
  }
  const target: VerifiedTarget = {
    [TypeId]: TypeId,
    database,
    host: resolved.host,
    port: resolved.port,
    user: resolved.user,
    passwordSet: resolved.password !== undefined,
    masked: maskDsn(raw),
    tls: params.tls,
    connection: {
      host: resolved.host,
      port: resolved.port,
      user: resolved.user,
      password: resolved.password === undefined ? undefined : Redacted.make(resolved.password),
      database,
      ssl,
      driverOptions: params.driverOptions,
      connectTimeoutMillis: params.connectTimeoutMillis,
      keepAlive: params.keepAlive,
      keepAliveIdleMillis: params.keepAliveIdleMillis
    }
  }
  issued.add(target)
  return target
}

const inputOf = (
  dsn: Option.Option<Redacted.Redacted<string>>,
  context: { readonly developmentDsnSet?: boolean | undefined; readonly driverDefaults?: WorkflowLiveConfig.DriverDefaults | undefined },
  options: Options
): Input => ({
  raw: Option.map(dsn, Redacted.value).pipe(Option.filter((value) => value.trim() !== ""), Option.getOrUndefined),
  expected: options.database ?? WorkflowLiveConfig.workflowDatabase,
  variable: options.variable ?? WorkflowLiveConfig.dsnVariable,
  protectedDatabases: options.protectedDatabases ?? defaultProtected,
  defaults: context.driverDefaults ?? { host: Option.none(), port: Option.none(), user: Option.none(), database: Option.none() },
  developmentDsnSet: context.developmentDsnSet ?? false
})

const toError = (input: Input, refusal: Refusal): DsnGuardError =>
  new DsnGuardError({
    reason: refusal.reason,
    variable: input.variable,
    // a value that is not a URL at all may be a secret in the wrong variable: never shown, only previewed
    masked: input.raw === undefined ? undefined : refusal.reason === "not-a-url" ? preview(input.raw) : maskDsn(input.raw),
    database: refusal.database,
    expected: input.expected,
    detail: refusal.detail,
    example: refusal.example ?? exampleDsn(input.raw, input.expected),
    secrets: Redacted.make(input.raw === undefined ? [] : secretsOf(input.raw))
  })

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
    const input = inputOf(dsn, context, options)
    const checked = Either.gen(function*() {
      const raw = yield* present(input)
      const kind = yield* urlShaped(raw)
      const resolved = yield* resolveParts(raw, input)
      const database = yield* named(raw, kind, resolved, input)
      yield* allowed(database, input)
      const params = yield* honoured(raw, kind, database)
      return issue(raw, resolved, database, params)
    })
    return Either.match(checked, {
      onLeft: (refusal) => Effect.fail(toError(input, refusal)),
      onRight: Effect.succeed
    })
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
    `  Database: ${target.database}`,
    `  TLS:      ${target.tls}`,
    ...(Object.keys(target.connection.driverOptions).length === 0 ? [] : [
      `  Carried:  ${Object.keys(target.connection.driverOptions).join(", ")} (on every connection the lane opens)`
    ])
  ].join("\n")
