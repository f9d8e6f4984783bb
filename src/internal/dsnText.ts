/**
 * The words of the DSN guard: why a value is not a URL, what a lookalike name differs by, a corrected
 * DSN to copy, and a preview of a value that must not be shown. Text only: no verdicts are made here.
 */
import { parse } from "pg-connection-string"
import { keptInExample, withoutTlsMode } from "./dsnParameters.js"
import { hasStrayAt } from "./redact.js"

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

/** Characters a terminal would not show. */
export const invisibleChar = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\uFEFF]/

/** A name reduced to what a reader sees: used only to recognise lookalikes, never to accept one. */
export const fold = (name: string): string => {
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
export const differences = (actual: string, known: string): string => {
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

/** A libpq key/value string's host, port and user carried over into the URL form. */
const fromKeyValue = (text: string, database: string): string => {
  const pairs = new Map(
    [...text.matchAll(/(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)/g)].map((m) => [m[1]!.toLowerCase(), m[2]!.replace(/^'|'$/g, "")])
  )
  const user = pairs.get("user")
  const host = pairs.get("host") ?? "127.0.0.1"
  const auth = user === undefined ? "" : `${encodeURIComponent(user)}${pairs.has("password") ? ":PASSWORD" : ""}@`
  if (host.startsWith("/")) return `socket:${host}?db=${database}${user === undefined ? "" : `&user=${user}`}`
  return `postgres://${auth}${host}:${pairs.get("port") ?? "5432"}/${database}`
}

/** A postgres:// URL with the database replaced, no password and no database-naming parameter. */
const fromUrl = (text: string, scheme: string, database: string): string => {
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
  for (const [key, value] of [...url.searchParams.entries()]) {
    if (!keptInExample(key, value)) url.searchParams.delete(key)
  }
  const mode = url.searchParams.get("sslmode")
  const verifiable = url.searchParams.has("sslrootcert") || mode !== "verify-ca"
  if (mode !== null && (!verifiable || !["disable", "require", "verify-full", "no-verify"].includes(mode))) {
    url.searchParams.set("sslmode", mode === "verify-ca" && verifiable ? "verify-ca" : "verify-full")
  }
  const port = url.searchParams.get("port")
  if (port !== null && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    url.searchParams.delete("port")
  }
  return url.href
}

const buildExample = (text: string, database: string): string | undefined => {
  if (/^jdbc:/i.test(text)) return exampleDsn(text.slice(5), database)
  if (text.startsWith("/")) return `socket:${text.split(/\s/)[0]}?db=${database}`
  if (/^\w+\s*=/.test(text)) return fromKeyValue(text, database)
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(text)?.[1]?.toLowerCase()
  if (scheme === "socket") {
    const parsed = parse(withoutTlsMode(text))
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
  return fromUrl(text, scheme, database)
}

/** The DSN the user should set, built from theirs with the database replaced and no password. */
export const exampleDsn = (raw: string | undefined, database: string): string => {
  if (raw === undefined) return exampleFallback(database)
  let example: string | undefined
  try {
    example = buildExample(raw.trim(), database)
  } catch {
    example = undefined
  }
  return example === undefined || example.length > 160 || invisibleChar.test(example)
    ? exampleFallback(database)
    : example
}

/** The parts of the DSN the URL parser and the driver ignore, leading and trailing. */
export const driverTrim = (raw: string): string =>
  // WHATWG URL parsing drops tabs and newlines anywhere and C0 controls at the ends; spaces it would drop
  // too, but pg-connection-string percent-encodes them first, so they stay
  raw.replace(/[\t\n\r]/g, "").replace(/^[\u0000-\u001F]+|[\u0000-\u001F]+$/g, "")

/** Why a DSN without an accepted scheme is refused, and what the driver would make of it. */
export const notAUrlDetail = (raw: string, scheme: string | undefined): string => {
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
  if (scheme !== undefined) return `the scheme is \`${scheme.slice(0, 20)}//\`; the driver speaks PostgreSQL only.`
  return "it has no scheme; the driver would resolve it against postgres://base and connect to the wrong place."
}

/**
 * A value that is not a URL, as it may be shown: it may be a secret pasted into the wrong variable, so
 * only its length and (for longer values) its first two characters appear.
 */
export const preview = (raw: string): string => {
  const chars = [...raw]
  const head = chars.length >= 16 ? chars.slice(0, 2).join("").replace(invisibleChar, "?") : ""
  return `${head}***** (${chars.length} characters, not shown: it may be a secret in the wrong variable)`
}
