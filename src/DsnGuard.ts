/**
 * The DSN guard: the only way to obtain a {@link VerifiedTarget}, which every destructive operation
 * requires. It resolves the database exactly as the driver would (same parser, same fallbacks) and
 * accepts one name only, before any connection is opened.
 */
import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { parse } from "pg-connection-string"
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

// Letters from other scripts that render like Latin ones, and dashes typed for underscores.
const confusables: Record<string, string> = {
  "а": "a",
  "в": "b",
  "е": "e",
  "к": "k",
  "м": "m",
  "н": "h",
  "о": "o",
  "р": "p",
  "с": "c",
  "т": "t",
  "х": "x",
  "у": "y",
  "і": "i",
  "ј": "j",
  "ѕ": "s",
  "ԁ": "d",
  "ɡ": "g",
  "ο": "o",
  "α": "a",
  "β": "b",
  "ε": "e",
  "ι": "i",
  "κ": "k",
  "ν": "v",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "-": "_",
  "‐": "_",
  "‑": "_",
  "–": "_",
  "—": "_",
  "−": "_",
  " ": "_",
  "ı": "i"
}

const invisibleChar = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\uFEFF]/

/** A name reduced to what a reader sees: used only to recognise lookalikes, never to accept one. */
const fold = (name: string): string => {
  let decoded = name
  try {
    decoded = decodeURIComponent(name)
  } catch {
    // a stray `%`: compare the name as written
  }
  const visible = [...decoded.normalize("NFKC").toLowerCase()].filter((ch) => !invisibleChar.test(ch)).join("")
  return [...visible.replace(/^[\s/]+|[\s/]+$/g, "")].map((ch) => confusables[ch] ?? ch).join("")
}

const codePoint = (ch: string): string =>
  `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}${invisibleChar.test(ch) ? "" : ` "${ch}"`}`

/** What makes `actual` differ from the name it imitates, in words a person can act on. */
const differences = (actual: string, known: string): string => {
  const found: Array<string> = []
  if (/^\s|\s$/.test(actual)) found.push("leading or trailing whitespace")
  if (/^\/|\/$/.test(actual)) found.push("a leading or trailing `/` (everything after the host's `/` is the name)")
  if (/[A-Z]/.test(actual) && !/[A-Z]/.test(known)) found.push("upper-case letters")
  if (/%[0-9a-f]{2}/i.test(actual)) found.push("a percent-encoded character the driver does not decode")
  if (/[-\u2010-\u2015\u2212]/.test(actual)) found.push("a dash (`-`) where the name has an underscore (`_`)")
  const hidden = [...new Set([...actual].filter((ch) => invisibleChar.test(ch) && !/\s/.test(ch)))]
  if (hidden.length > 0) found.push(`invisible characters (${hidden.map(codePoint).join(", ")})`)
  const foreign = [...new Set([...actual].filter((ch) => ch.codePointAt(0)! > 0x7e && !invisibleChar.test(ch)))]
    .filter((ch) => !/[\u2010-\u2015\u2212]/.test(ch))
  if (foreign.length > 0) {
    found.push(`characters that only look like ASCII letters (${foreign.map(codePoint).join(", ")})`)
  }
  return found.length === 0 ? "" : `it has ${found.join("; ")}`
}

const exampleFallback = (database: string): string => `postgres://postgres@127.0.0.1:5432/${database}`

/** The DSN the user should set, built from theirs with the database replaced and no password. */
const exampleDsn = (raw: string | undefined, database: string): string => {
  if (raw === undefined) return exampleFallback(database)
  const text = raw.trim()
  const built = ((): string | undefined => {
    if (/^jdbc:/i.test(text)) return exampleDsn(text.slice(5), database)
    if (text.startsWith("/")) return `socket:${text.split(/\s/)[0]}?db=${database}`
    if (/^\w+\s*=/.test(text)) {
      // a libpq key/value string: carry host, port and user over into the URL form
      const pairs = new Map(
        [...text.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)/g)].map((m) => [
          m[1]!.toLowerCase(),
          m[2]!.replace(/^'|'$/g, "")
        ])
      )
      const user = pairs.get("user")
      const host = pairs.get("host") ?? "127.0.0.1"
      const auth = user === undefined ? "" : `${encodeURIComponent(user)}${pairs.has("password") ? ":PASSWORD" : ""}@`
      if (host.startsWith("/")) return `socket:${host}?db=${database}${user === undefined ? "" : `&user=${user}`}`
      return `postgres://${auth}${host}:${pairs.get("port") ?? "5432"}/${database}`
    }
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase()
    if (scheme === "socket") {
      const parsed = parse(text)
      const user = parsed.user ? `&user=${encodeURIComponent(parsed.user)}` : ""
      return parsed.host ? `socket:${parsed.host}?db=${database}${user}` : undefined
    }
    if (scheme !== "postgres" && scheme !== "postgresql") {
      // `host:port/db` or `user:pass@host:port/db` without a scheme
      const bare = /^(?:([^\s:@/]+)(:[^@]*)?@)?([^\s:@/]+):(\d+)(?:\/|$)/.exec(text)
      if (bare === null) return undefined
      const auth = bare[1] === undefined ? "" : `${bare[1]}${bare[2] === undefined ? "" : ":PASSWORD"}@`
      return `postgres://${auth}${bare[3]}:${bare[4]}/${database}`
    }
    if (!/^postgres(ql)?:\/\//i.test(text)) return undefined
    if (hasStrayAt(text)) {
      // the parser cannot be trusted to find the host: take it from after the last `@`, as written
      const at = text.lastIndexOf("@")
      const user = text.slice(text.indexOf("://") + 3, at).split(":")[0]
      const host = /^[^/?#]*/.exec(text.slice(at + 1))![0]
      return `${scheme}://${user}:PASSWORD@${host}/${database}`
    }
    const url = new URL(text)
    if (url.password !== "") url.password = "PASSWORD"
    url.pathname = `/${database}`
    url.hash = ""
    for (const key of [...url.searchParams.keys()]) {
      if (/^(password|sslpassword|database|dbname|db)$/i.test(key)) url.searchParams.delete(key)
    }
    const port = url.searchParams.get("port")
    if (port !== null && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
      url.searchParams.delete("port")
    }
    return url.href
  })
  let example: string | undefined
  try {
    example = built()
  } catch {
    example = undefined
  }
  return example === undefined || example.length > 160 || invisibleChar.test(example)
    ? exampleFallback(database)
    : example
}

interface Resolved {
  readonly database: string | null
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
  readonly ssl: boolean | object | undefined
}

class PortError {
  constructor(readonly source: string) {}
}

const resolve = (raw: string, defaults: WorkflowLiveConfig.DriverDefaults): Resolved => {
  const parsed = parse(raw)
  // the driver's own order (pg ConnectionParameters): the DSN's value if non-empty, then PG*, then a default
  const pick = (value: string | null | undefined, fallback: Option.Option<string>, last: string): string =>
    value !== null && value !== undefined && value !== "" ? value : Option.getOrElse(fallback, () => last)
  const portText = pick(parsed.port, defaults.port, "5432")
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new PortError(parsed.port ? "the port in the DSN" : "PGPORT")
  }
  return {
    database: parsed.database ?? null,
    host: pick(parsed.host, defaults.host, "localhost"),
    port,
    user: pick(parsed.user, defaults.user, ""),
    password: parsed.password ? parsed.password : undefined,
    ssl: parsed.ssl as boolean | object | undefined
  }
}

/** The parts of the DSN the URL parser and the driver ignore, leading and trailing. */
const driverTrim = (raw: string): string =>
  // WHATWG URL parsing drops tabs and newlines anywhere and C0 controls at the ends; spaces it would drop
  // too, but pg-connection-string percent-encodes them first, so they stay
  raw.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u001F]+|[\u0000-\u001F]+$/g, "")

/** Why a DSN without an accepted scheme is refused, and what the driver would make of it. */
const notAUrlDetail = (raw: string, scheme: string | undefined): string => {
  const text = raw.trim()
  if (raw !== text && /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return "it starts with whitespace; the driver would read it as a relative URL and connect to host " +
      "`base`. Remove the whitespace."
  }
  if (text.startsWith("/")) {
    return "a bare socket path is not accepted (the database would be whatever follows a space); write it as " +
      "socket:/path/to/dir?db=NAME."
  }
  if (/^\w+\s*=/.test(text)) {
    return "it looks like a libpq key/value string (host=... dbname=...); the driver does not parse those: " +
      "it would take the whole string as the database name. Use the URL form."
  }
  if (scheme === "jdbc:") return "a JDBC URL; drop the `jdbc:` prefix (and any JDBC-only parameters)."
  if (scheme === "postgres:" || scheme === "postgresql:") {
    return "it lacks the `//` after the scheme; the driver would read the rest as a path, not a host."
  }
  if (scheme !== undefined && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return "it has no scheme (`host:port/...` or `user@host/...`); the driver would resolve it against " +
      "postgres://base and connect to the wrong place."
  }
  if (scheme !== undefined) return `the scheme is \`${scheme}//\`; the driver speaks PostgreSQL only.`
  return "it has no scheme; the driver would resolve it against postgres://base and connect to the wrong place."
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
    // an empty or blank value is an unset variable written another way
    const raw = Option.map(dsn, Redacted.value).pipe(
      Option.filter((value) => value.trim() !== ""),
      Option.getOrUndefined
    )
    const secrets = Redacted.make(raw === undefined ? [] : secretsOf(raw))
    const refuse = (
      reason: DsnGuardReason,
      detail: string,
      database?: string,
      example: string = exampleDsn(raw, expected)
    ): Effect.Effect<never, DsnGuardError> =>
      Effect.fail(
        new DsnGuardError({
          reason,
          variable,
          masked: raw === undefined ? undefined : maskDsn(raw),
          database,
          expected,
          detail,
          example,
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

    const scheme = /^([a-z][a-z0-9+.-]*:)/i.exec(driverTrim(raw))?.[1]?.toLowerCase()
    const isUrl = scheme === "socket:" ||
      ((scheme === "postgres:" || scheme === "postgresql:") && /^[a-z]+:\/\//i.test(driverTrim(raw)))
    if (!isUrl) return refuse("not-a-url", notAUrlDetail(raw, scheme))

    if (hasStrayAt(driverTrim(raw))) {
      return refuse(
        "unparseable",
        "an `@` comes after the host part: a password (or user) containing `/`, `?` or `#` must be " +
          "percent-encoded (`/` %2F, `?` %3F, `#` %23, `@` %40), or the driver splits the URL there and " +
          "reads part of the password as host, port or database."
      )
    }

    let resolved: Resolved
    try {
      resolved = resolve(raw, defaults)
    } catch (cause) {
      if (cause instanceof PortError && cause.source === "PGPORT") {
        // the DSN is fine; an explicit port in it overrides the bad PGPORT
        const example = exampleDsn(raw, expected).replace(/^(postgres(?:ql)?:\/\/[^/?#]*?)(:\d+)?(?=[/?#]|$)/i, "$1:5432")
        return refuse(
          "unparseable",
          "PGPORT is not a port number between 1 and 65535, and the DSN names no port, so the driver would " +
            "use it. Unset PGPORT, fix it, or put the port in the DSN.",
          undefined,
          example
        )
      }
      const why = cause instanceof PortError
        ? `${cause.source} is not a port number between 1 and 65535.`
        : cause instanceof URIError
        ? "it contains a `%` that does not start a valid percent-encoded UTF-8 sequence; write a literal `%` as %25."
        : cause instanceof Error && /ENOENT|EACCES|EISDIR/.test(cause.message)
        ? `a file it names (sslcert, sslkey or sslrootcert) cannot be read: ${cause.message}.`
        : cause instanceof Error && /invalid url/i.test(cause.message)
        ? "the URL is malformed: a bad host or port, or a password with a special character that is not " +
          "percent-encoded."
        : `pg-connection-string rejected it: ${cause instanceof Error ? cause.message : String(cause)}.`
      return refuse("unparseable", why)
    }

    if (resolved.database === null || resolved.database === "") {
      // pg's ConnectionParameters: no database -> PGDATABASE -> the user name
      const fallback = Option.getOrElse(defaults.database, () => resolved.user)
      const source = Option.isSome(defaults.database) ? "PGDATABASE" : "the user name"
      const ignored = /[?&](database|dbname|db)=/i.test(raw)
        ? scheme === "socket:"
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
        const odd = differences(database, lookalike)
        return refuse(
          "lookalike-database",
          `\`${shown(database)}\` is not \`${lookalike}\`: the driver sends the name exactly as written, and ` +
            `names are case-sensitive` + (odd === "" ? "." : `; ${odd}.`),
          database
        )
      }
      return refuse(
        "not-workflow-database",
        `the lane only resets \`${expected}\`.`,
        database
      )
    }

    if (resolved.ssl !== null && typeof resolved.ssl === "object" && "key" in resolved.ssl) {
      // a client key read from `sslkey`: kept for the driver, hidden from serialisation and inspection
      Object.defineProperty(resolved.ssl, "key", { enumerable: false })
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
