/** Shapes a DSN for display with every secret masked; never returns a password. */
import { parse } from "pg-connection-string"

const mask = "*****"
const maxDisplay = 160

const secretParams = /^(password|sslpassword|sslkey|passfile)$/i

/** The displayable form of a DSN: password and secret query parameters masked, fragment dropped. */
export const maskDsn = (raw: string): string => {
  const shown = (() => {
    if (!/^[a-z][a-z0-9+.-]*:/i.test(raw)) {
      // key/value strings and other non-URLs: mask `password=...` pairs, keep the rest readable
      if (/[=]/.test(raw)) {
        return raw.replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1${mask}`)
      }
      return raw.includes("@") ? `<not a URL, ${raw.length} characters, not shown>` : raw
    }
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      return `<unparseable, ${raw.length} characters, not shown>`
    }
    if (url.password !== "") url.password = mask
    for (const key of [...url.searchParams.keys()]) {
      if (secretParams.test(key)) url.searchParams.set(key, mask)
    }
    // a fragment can only come from a password with a `#` in it: never show it
    url.hash = url.hash === "" ? "" : "#…"
    return url.href
  })()
  return shown.length > maxDisplay ? `${shown.slice(0, maxDisplay)}… (${raw.length} characters)` : shown
}

/** The secrets a DSN carries (as written and decoded), to scrub from any text as a last line of defence. */
export const secretsOf = (raw: string): ReadonlyArray<string> => {
  const found = new Set<string>()
  try {
    const parsed = parse(raw)
    if (parsed.password) found.add(parsed.password)
  } catch {
    // unparseable: nothing more to learn here
  }
  try {
    const url = new URL(raw)
    if (url.password) {
      found.add(url.password)
      try {
        found.add(decodeURIComponent(url.password))
      } catch {
        // malformed escape: the raw form is already in the set
      }
    }
  } catch {
    // not a URL
  }
  const kv = /password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi
  for (const match of raw.matchAll(kv)) found.add(match[1]!.replace(/^'|'$/g, ""))
  return [...found].filter((secret) => secret.length > 0)
}

/** Replaces every occurrence of each secret in `text`. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets
    // very short secrets would mask ordinary letters; the masked DSN already hides them
    .filter((secret) => secret.length >= 4)
    .reduce((acc, secret) => acc.split(secret).join(mask), text)
