/**
 * The query string of a DSN, read deliberately: every parameter the driver (`pg`) honours is either
 * carried onto every connection the lane opens, or refused with a reason. Nothing is dropped silently,
 * and `sslmode` is interpreted here (libpq's meaning, said in words) instead of by pg-connection-string,
 * whose interpretation prints a "SECURITY WARNING" on the user's terminal.
 */

/** Parameters carried as they are to the driver on every connection (its config keys). */
const carried = [
  "options",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "query_timeout",
  "client_encoding",
  "sslnegotiation"
] as const

/** Parameters the driver reads as numbers, and their unit. */
const numericParameters: ReadonlyArray<readonly [string, string]> = [
  ["statement_timeout", "milliseconds"],
  ["lock_timeout", "milliseconds"],
  ["idle_in_transaction_session_timeout", "milliseconds"],
  ["query_timeout", "milliseconds"],
  ["connect_timeout", "seconds"],
  ["keepalives_idle", "seconds"]
]

/** Parameters read by the guard itself (where to connect, TLS) or meaningful only as the lane sets them. */
const understood = [
  "host",
  "port",
  "user",
  "password",
  "db",
  "dbname",
  "database",
  "encoding",
  "ssl",
  "sslmode",
  "sslcert",
  "sslkey",
  "sslrootcert",
  "uselibpqcompat",
  "connect_timeout",
  "keepalives",
  "keepalives_idle",
  // the lane always names its sessions, which is when the driver ignores the fallback
  "fallback_application_name"
] as const

/** Parameters the lane cannot honour on its connections, and why. */
const refusedParameters: Readonly<Record<string, string>> = {
  application_name: "the lane names every session it opens (`workflow-live …`), so that a waiting reset can " +
    "name who holds its lock; a DSN's application_name would hide that. Remove it from the DSN",
  replication: "a replication connection is not a place to run the lane's schema and tests. Remove it",
  binary: "the lane reads results as text; binary results would change every value it reads. Remove it",
  target_session_attrs: "the driver connects to one host only and never checks the session's attributes, " +
    "so the lane could not honour it. Remove it, and point the DSN at the primary"
}

/** A value the driver can read for `key`: a number where it wants one. */
const readable = (key: string, value: string): boolean =>
  !numericParameters.some(([name]) => name === key) || /^\s*\d+\s*$/.test(value)

/** Whether a parameter survives into the corrected DSN a refusal suggests (the database goes in the path). */
export const keptInExample = (key: string, value = ""): boolean =>
  readable(key, value) && (
    (carried as ReadonlyArray<string>).includes(key) ||
    ((understood as ReadonlyArray<string>).includes(key) && !["db", "dbname", "database", "password"].includes(key))
  )

/** The TLS modes, in libpq's meaning. */
export const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full", "no-verify"] as const

/** A query string the lane honours: what to hand the driver, and the TLS it gets, in words. */
export interface Honoured {
  /** Driver config keys with the DSN's values, for every connection (`options`, `statement_timeout`, ...). */
  readonly driverOptions: Readonly<Record<string, string>>
  /** `connect_timeout` in milliseconds, when the DSN sets one. */
  readonly connectTimeoutMillis: number | undefined
  /** `keepalives` / `keepalives_idle`, when the DSN sets them. */
  readonly keepAlive: boolean | undefined
  readonly keepAliveIdleMillis: number | undefined
  /** Applied to the `ssl` object pg-connection-string built from sslcert/sslkey/sslrootcert, if any. */
  readonly ssl: (base: boolean | object | undefined) => boolean | object | undefined
  /** The TLS the lane will use, for `workflow-live target` and preflight. */
  readonly tls: string
}

/** Why the query string is refused. */
export interface Refused {
  readonly reason: "unsupported-parameter" | "unsupported-sslmode" | "conflicting-database"
  readonly detail: string
}

/** The query string's parameters as the driver reads them (the last of a repeated key wins, as there). */
export const queryOf = (raw: string): ReadonlyMap<string, string> => {
  const query = /\?([^#]*)/.exec(raw)?.[1] ?? ""
  const params = new Map<string, string>()
  try {
    for (const [key, value] of new URLSearchParams(query)) params.set(key, value)
  } catch {
    // a malformed query is reported by the parser
  }
  return params
}

/** The DSN without the parameters the guard interprets itself, so the driver's parser never warns. */
export const withoutTlsMode = (raw: string): string => {
  const q = raw.indexOf("?")
  if (q < 0) return raw
  const hash = raw.indexOf("#", q)
  const end = hash < 0 ? raw.length : hash
  const kept = raw.slice(q + 1, end).split("&").filter((part) => !/^(sslmode|uselibpqcompat)(=|$)/.test(part))
  return `${raw.slice(0, q)}${kept.length === 0 ? "" : `?${kept.join("&")}`}${raw.slice(end)}`
}

const seconds = (value: string): number | undefined => /^\d+$/.test(value.trim()) ? Number(value) * 1000 : undefined

const tlsFor = (
  mode: string | undefined,
  hasRootCert: boolean
): { readonly apply: Honoured["ssl"]; readonly tls: string } | Refused => {
  const object = (base: boolean | object | undefined): object => typeof base === "object" && base !== null ? base : {}
  switch (mode) {
    case undefined:
      return { apply: (base) => base, tls: "as the driver defaults (no sslmode in the DSN)" }
    case "disable":
      return { apply: () => false, tls: "off (sslmode=disable)" }
    case "require":
    case "no-verify":
      return hasRootCert && mode === "require"
        ? { apply: (base) => ({ ...object(base), checkServerIdentity: () => undefined }), tls: verifyCaText }
        : {
          apply: (base) => ({ ...object(base), rejectUnauthorized: false }),
          tls: `encrypted, server certificate NOT verified (sslmode=${mode}); use sslmode=verify-full to verify it`
        }
    case "verify-ca":
      return hasRootCert
        ? { apply: (base) => ({ ...object(base), checkServerIdentity: () => undefined }), tls: verifyCaText }
        : {
          reason: "unsupported-sslmode",
          detail: "sslmode=verify-ca checks the server's certificate against a CA, but the DSN names none: add " +
            "sslrootcert=/path/to/ca.crt, or use sslmode=verify-full (checked against the system's CAs and the host name)."
        }
    case "verify-full":
      return { apply: (base) => object(base), tls: "encrypted, certificate and host name verified (sslmode=verify-full)" }
    case "allow":
    case "prefer":
      return {
        reason: "unsupported-sslmode",
        detail: `sslmode=${mode} lets libpq fall back to the other kind of connection; the driver cannot fall back, ` +
          "and would verify the certificate fully instead (printing its own warning). The lane does " +
          "not guess: write sslmode=disable (no TLS), sslmode=require (encrypted, certificate not verified) or " +
          "sslmode=verify-full (encrypted and verified)."
      }
    default:
      return {
        reason: "unsupported-sslmode",
        detail: `sslmode=${JSON.stringify(mode).slice(0, 40)} is not a TLS mode; use one of disable, require, verify-ca ` +
          "(with sslrootcert) or verify-full."
      }
  }
}

const verifyCaText = "encrypted, certificate checked against sslrootcert, host name not checked (sslmode=verify-ca)"

/** Checks the query string of an accepted-looking DSN against what the lane can honour. */
export const honour = (raw: string, database: string, socket: boolean): Honoured | Refused => {
  const params = queryOf(raw)
  for (const key of params.keys()) {
    const why = refusedParameters[key]
    if (why !== undefined) return { reason: "unsupported-parameter", detail: `?${key}=: ${why}.` }
    if (!(carried as ReadonlyArray<string>).includes(key) && !(understood as ReadonlyArray<string>).includes(key)) {
      return {
        reason: "unsupported-parameter",
        detail: `?${shortKey(key)}= is not a parameter the driver knows: it would ignore it silently (a typo?). ` +
          `The lane honours ${[...carried, "sslmode", "sslcert", "sslkey", "sslrootcert", "connect_timeout", "keepalives", "keepalives_idle"].join(", ")}. ` +
          "Remove or correct it; a server setting (search_path, timezone, ...) goes in ?options=-c%20NAME%3DVALUE."
      }
    }
  }
  for (const key of socket ? ["dbname", "database"] : ["db", "dbname", "database"]) {
    const named = params.get(key)
    if (named !== undefined && named !== database) {
      return {
        reason: "conflicting-database",
        detail: `the path names \`${database}\` but ?${key}= names \`${shortKey(named)}\`; psql and pg_dump would ` +
          `connect to the one in ?${key}=, the driver to the other. Remove ?${key}= from the DSN.`
      }
    }
  }
  // the driver turns these into numbers: a value that is not one reaches the server as NaN, and every
  // connection fails (with an error that reads like a network problem)
  for (const [key, unit] of numericParameters) {
    const value = params.get(key)
    if (value !== undefined && !readable(key, value)) {
      return {
        reason: "unsupported-parameter",
        detail: `?${key}=${JSON.stringify(shortKey(value))} is not a whole number of ${unit}; the driver would send ` +
          `NaN and the server refuse every connection. Use a number (e.g. ?${key}=${unit === "seconds" ? "10" : "30000"}), or remove it.`
      }
    }
  }
  const tls = tlsFor(params.get("sslmode"), params.has("sslrootcert"))
  if ("reason" in tls) return tls
  const driverOptions: Record<string, string> = {}
  for (const key of carried) {
    const value = params.get(key)
    if (value !== undefined) driverOptions[key] = value
  }
  const encoding = params.get("encoding")
  if (socket && encoding !== undefined && driverOptions["client_encoding"] === undefined) {
    driverOptions["client_encoding"] = encoding
  }
  const keepalives = params.get("keepalives")
  const idle = params.get("keepalives_idle")
  return {
    driverOptions,
    connectTimeoutMillis: params.has("connect_timeout") ? seconds(params.get("connect_timeout")!) : undefined,
    keepAlive: keepalives === undefined ? undefined : keepalives.trim() !== "0",
    keepAliveIdleMillis: idle === undefined ? undefined : seconds(idle),
    ssl: tls.apply,
    tls: tls.tls
  }
}

const shortKey = (key: string): string => JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key).slice(1, -1)
