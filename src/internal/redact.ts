/** Shapes a DSN for display with every secret masked; never returns a password. */
import { parse } from "pg-connection-string"
import { withoutTlsMode } from "./dsnParameters.js"

const mask = "*****"
const maxDisplay = 160

const secretKeys = "password|sslpassword|sslkey|passfile"
// `key=value` pairs in a query string or a libpq key/value string; a quoted value may hold spaces
const secretPair = new RegExp(`((?:^|[?&;\\s])(?:${secretKeys})\\s*=\\s*)('(?:[^'\\\\]|\\\\.)*'|[^&\\s#]*)`, "gi")

/**
 * Where the credentials of a URL-like string end, read the way a person writes them: the userinfo runs
 * from `scheme://` to the LAST `@`. A URL parser stops at the first `/`, `?` or `#` instead, so a password
 * with one of those characters unencoded lands in the host, port, path or fragment; reading to the last
 * `@` masks it wherever the parser put it.
 */
const credentials = (raw: string): { readonly start: number; readonly at: number; readonly colon: number } | undefined => {
  const separator = raw.indexOf("://")
  const start = separator >= 0 ? separator + 3 : 0
  const at = raw.lastIndexOf("@")
  if (at < start) return undefined
  const colon = raw.slice(start, at).indexOf(":")
  return { start, at, colon: colon < 0 ? -1 : start + colon }
}

/** The password as the writer of the DSN meant it (between `user:` and the last `@`), if any. */
export const intendedPassword = (raw: string): string | undefined => {
  const found = credentials(raw)
  return found === undefined || found.colon < 0 ? undefined : raw.slice(found.colon + 1, found.at)
}

/**
 * True when an `@` appears after the URL's authority (in its path, query or fragment): almost always a
 * password with an unencoded `/`, `?` or `#`, which the driver would split into host, port and database.
 */
export const hasStrayAt = (raw: string): boolean => {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)([\s\S]*)$/i.exec(raw)
  return match !== null && match[2]!.includes("@")
}

// Characters a terminal would not show (controls, zero-width, bidi, soft hyphen): shown as escapes.
const invisible = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u2064\uFEFF]/g

/** Makes invisible characters visible as `\u{...}` escapes, so a display never hides part of a name. */
export const showInvisible = (text: string): string =>
  text.replace(invisible, (ch) => `\\u{${ch.codePointAt(0)!.toString(16).toUpperCase()}}`)

/** Shortens a value for display, saying how long it really is. */
export const truncate = (text: string, max: number = maxDisplay): string =>
  [...text].length > max ? `${[...text].slice(0, max).join("")}… (${[...text].length} characters)` : text

/**
 * The displayable form of a DSN: password masked wherever it sits (userinfo, `?password=`, libpq
 * `password=`), fragment hidden, invisible characters escaped, long input shortened. It works on the text
 * as written, not on a parser's reading of it, so a malformed DSN is masked as safely as a good one.
 */
export const maskDsn = (raw: string): string => {
  let shown = raw
  const found = credentials(raw)
  let tail = 0
  if (found !== undefined && found.colon >= 0) {
    shown = `${raw.slice(0, found.colon + 1)}${mask}${raw.slice(found.at)}`
    tail = found.colon + 1 + mask.length
  }
  const head = shown.slice(0, tail)
  let rest = shown.slice(tail)
  rest = rest.replace(secretPair, `$1${mask}`)
  // after the credentials a `#` starts a fragment, which the driver ignores; in a DSN it is most often
  // the rest of a password, so it is never shown
  const hash = rest.indexOf("#")
  if (hash >= 0) rest = `${rest.slice(0, hash)}#…`
  // the password written once more elsewhere (`?options=-c%20x%3D<password>`) is masked there too
  return truncate(showInvisible(scrub(head + rest, secretsOf(raw))))
}

const tryDecode = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** The secrets a DSN carries (as written and decoded), to scrub from any text as a last line of defence. */
export const secretsOf = (raw: string): ReadonlyArray<string> => {
  const found = new Set<string>()
  const add = (secret: string | undefined): void => {
    if (secret === undefined || secret === "") return
    found.add(secret)
    const decoded = tryDecode(secret)
    if (decoded !== undefined) found.add(decoded)
  }
  try {
    // without sslmode: the parser would print a warning for it
    add(parse(withoutTlsMode(raw)).password ?? undefined)
  } catch {
    // unparseable: the textual readings below still apply
  }
  try {
    add(new URL(raw).password)
  } catch {
    // not a URL
  }
  add(intendedPassword(raw))
  for (const match of raw.matchAll(secretPair)) add(match[2]!.replace(/^'|'$/g, ""))
  return [...found]
}

/** Replaces every occurrence of each secret in `text`. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets
    // very short secrets would mask ordinary letters; the masked DSN already hides them
    .filter((secret) => secret.length >= 4)
    // longest first, so a secret that contains another is replaced whole
    .sort((a, b) => b.length - a.length)
    .reduce((acc, secret) => acc.split(secret).join(mask), text)
