/**
 * Cassettes: what a recorded test file's HTTP traffic looks like on disk, and the canonical form of a
 * request that recording and replay both match on. The canonical form never holds a secret and never
 * depends on where an API ran: a base URL from a variable is written `{TENDERBOT_LLM_BASE_URL}/path`,
 * a secret's value `{TENDERBOT_LLM_API_KEY}`, a credential-like query or body field `{redacted}`.
 * Requests match on method, canonical URL, content type and canonical body; other headers are not kept.
 */
import * as zlib from "node:zlib"

/** The name calls outside any test (a suite's `beforeAll`, a layer) are kept under. */
export const outsideTest = "(outside a test)"

/** The variables a run knows: base URLs to abstract and secrets to remove, with their current values. */
export interface Canon {
  readonly bases: ReadonlyArray<{ readonly variable: string; readonly value: string }>
  readonly secrets: ReadonlyArray<{ readonly variable: string; readonly value: string }>
}

/** A request in canonical form. */
export interface CanonicalRequest {
  readonly method: string
  /** `{VARIABLE}/path?query` or an absolute URL; secrets replaced. */
  readonly url: string
  readonly contentType: string | undefined
  readonly body: string
}

/** One recorded response. */
export interface RecordedResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  /** Exactly one of these holds the body: JSON (when it round-trips exactly), text, or base64 bytes. */
  readonly json?: unknown
  readonly text?: string
  readonly base64?: string
}

/** A request and its responses, in the order they were given (a repeated request gets the next one). */
export interface Interaction {
  readonly request: {
    readonly method: string
    readonly url: string
    readonly contentType?: string | undefined
    readonly json?: unknown
    readonly body?: string | undefined
  }
  readonly responses: ReadonlyArray<RecordedResponse>
}

/** A cassette file: one per test file, interactions keyed by test name. */
export interface Cassette {
  readonly version: 1
  readonly file: string
  readonly tests: Readonly<Record<string, ReadonlyArray<Interaction>>>
}

/** The request header that keys a replayed interaction to its test (never sent anywhere). */
export const testHeader = "x-workflow-live-test"

const exactCredentialName = /^(api[-_]?key|apikey|key|token|access[-_]?token|refresh[-_]?token|id[-_]?token|auth|secret|client[-_]?secret|password|passwd|pwd|signature|sig)$/i
// a word of a longer name (`auth_token`, `privateKey`, `x-session-token`, `client.secret`) that makes it a credential's
const credentialWords = new Set([
  "token", "secret", "password", "passwd", "pwd", "apikey", "signature", "bearer", "credential", "credentials",
  "cookie", "auth", "authorization", "passphrase"
])
// `key` is a credential's word only beside one of these (`api_key`, `privateKey`, `x-signing-key`)
const keyQualifiers = new Set(["api", "private", "secret", "access", "client", "signing", "session", "master", "license"])

/** The words of a name: `x-session-token` -> x, session, token; `privateKey` -> private, key. */
const wordsOf = (name: string): ReadonlyArray<string> =>
  name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase().split(/[^a-z0-9]+/).filter((w) => w !== "")

/** A query, form, JSON or header name whose value is a credential. */
export const isCredentialName = (name: string): boolean => {
  if (exactCredentialName.test(name)) return true
  const words = wordsOf(name)
  return words.some((w) => credentialWords.has(w)) ||
    (words.includes("key") && words.some((w) => keyQualifiers.has(w))) ||
    (words.includes("session") && words.includes("id"))
}
const redacted = "{redacted}"

const replaceAll = (text: string, from: string, to: string): string => from === "" ? text : text.split(from).join(to)

/** Replaces each secret's value (raw, URL-encoded and JSON-escaped) with `{VARIABLE}`. */
export const withoutSecrets = (canon: Canon, text: string): string =>
  [...canon.secrets]
    .filter((s) => s.value.length > 0)
    .sort((a, b) => b.value.length - a.value.length)
    .reduce((acc, s) =>
      [s.value, encodeURIComponent(s.value), JSON.stringify(s.value).slice(1, -1)].reduce(
        (text, form) => replaceAll(text, form, `{${s.variable}}`),
        acc
      ), text)

// `a=1&key=secret`: credential-like values replaced, everything else kept byte for byte
const redactPairs = (query: string): string =>
  query.split("&").map((pair) => {
    const eq = pair.indexOf("=")
    if (eq < 0) return pair
    let name = pair.slice(0, eq)
    try {
      name = decodeURIComponent(name)
    } catch {
      // keep as written
    }
    return isCredentialName(name) ? `${pair.slice(0, eq)}=${redacted}` : pair
  }).join("&")

/** The canonical URL: base URL as its variable, credential-like query values and secrets replaced. */
export const canonicalUrl = (canon: Canon, url: string): string => {
  let shown = url
  for (const base of [...canon.bases].sort((a, b) => b.value.length - a.value.length)) {
    const prefix = base.value.replace(/\/+$/, "")
    if (prefix !== "" && (url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`))) {
      shown = `{${base.variable}}${url.slice(prefix.length)}`
      break
    }
  }
  const q = shown.indexOf("?")
  if (q >= 0) shown = `${shown.slice(0, q + 1)}${redactPairs(shown.slice(q + 1))}`
  return withoutSecrets(canon, shown)
}

const redactJson = (value: unknown): { readonly value: unknown; readonly changed: boolean } => {
  if (Array.isArray(value)) {
    const items = value.map(redactJson)
    return { value: items.map((i) => i.value), changed: items.some((i) => i.changed) }
  }
  if (typeof value !== "object" || value === null) return { value, changed: false }
  let changed = false
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    // a plain `key` in a JSON body is as often data as a credential: only a qualified one is redacted
    if (k.toLowerCase() !== "key" && isCredentialName(k) && typeof v === "string") {
      out[k] = redacted
      changed = true
    } else {
      const inner = redactJson(v)
      out[k] = inner.value
      changed ||= inner.changed
    }
  }
  return { value: out, changed }
}

const parseJson = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/** The canonical body: secrets replaced, credential-like JSON and form fields `{redacted}`. */
export const canonicalBody = (canon: Canon, contentType: string | undefined, body: string): string => {
  const text = withoutSecrets(canon, body)
  if (contentType !== undefined && /x-www-form-urlencoded/i.test(contentType)) return redactPairs(text)
  if (contentType === undefined || !/json/i.test(contentType)) return text
  const parsed = parseJson(text)
  if (!parsed.ok) return text
  const cleaned = redactJson(parsed.value)
  return cleaned.changed ? JSON.stringify(cleaned.value) : text
}

/** A request in canonical form. */
export const canonical = (
  canon: Canon,
  request: { readonly method: string; readonly url: string; readonly contentType: string | undefined; readonly body: string }
): CanonicalRequest => ({
  method: request.method.toUpperCase(),
  url: canonicalUrl(canon, request.url),
  contentType: request.contentType,
  body: canonicalBody(canon, request.contentType, request.body)
})

/** `{TENDERBOT_LLM_BASE_URL}`'s stand-in origin for matching: a name under `.invalid`, which never resolves. */
export const placeholderOrigin = (variable: string): string =>
  `http://${variable.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "")}.invalid`

/** The undici dispatch options a canonical request is matched under, keyed to its test. */
export const matchOptions = (request: CanonicalRequest, test: string) => {
  const variable = /^\{([A-Za-z0-9_]+)\}(.*)$/.exec(request.url)
  let origin: string
  let path: string
  if (variable !== null) {
    origin = placeholderOrigin(variable[1]!)
    path = variable[2]!.startsWith("/") ? variable[2]! : `/${variable[2]!}`
  } else {
    const url = new URL(request.url)
    origin = url.origin
    path = `${url.pathname}${url.search}`
  }
  const headers: Record<string, string> = { [testHeader]: test }
  if (request.contentType !== undefined) headers["content-type"] = request.contentType
  return { origin, path, method: request.method, headers, body: request.body }
}

// ---------------------------------------------------------------------------------------------------
// Stored form
// ---------------------------------------------------------------------------------------------------

/** A request as stored: a compact JSON body is kept as JSON, for people reading the cassette. */
export const storedRequest = (request: CanonicalRequest): Interaction["request"] => {
  const parsed = request.body === "" ? { ok: false as const } : parseJson(request.body)
  const json = parsed.ok && JSON.stringify(parsed.value) === request.body
  return {
    method: request.method,
    url: request.url,
    ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
    ...(json ? { json: (parsed as { value: unknown }).value } : request.body === "" ? {} : { body: request.body })
  }
}

/** The canonical request a stored one stands for. */
export const requestOf = (stored: Interaction["request"]): CanonicalRequest => ({
  method: stored.method,
  url: stored.url,
  contentType: stored.contentType,
  body: stored.json !== undefined ? JSON.stringify(stored.json) : stored.body ?? ""
})

// headers that describe one transfer, not the answer, or could carry a credential
const unkeptResponseHeaders = new Set([
  "date", "connection", "keep-alive", "transfer-encoding", "content-length", "set-cookie", "authorization",
  "proxy-authenticate", "www-authenticate"
])

/** The body as the application sees it: gzip, deflate and br undone (fetch would undo them too). */
export const decoded = (encoding: string | undefined, body: Buffer): { readonly body: Buffer; readonly decoded: boolean } => {
  try {
    switch (encoding?.trim().toLowerCase()) {
      case "gzip":
      case "x-gzip":
        return { body: zlib.gunzipSync(body), decoded: true }
      case "deflate":
        return { body: zlib.inflateSync(body), decoded: true }
      case "br":
        return { body: zlib.brotliDecompressSync(body), decoded: true }
      default:
        return { body, decoded: false }
    }
  } catch {
    return { body, decoded: false }
  }
}

/**
 * A response as stored: decompressed (so it can be read and cleaned), secrets replaced in headers and
 * body, the body as JSON, text or base64.
 */
export const storedResponse = (
  canon: Canon,
  response: { readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Buffer }
): RecordedResponse => {
  const lower = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]))
  const plain = decoded(lower["content-encoding"], response.body)
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(lower).sort(([a], [b]) => a < b ? -1 : 1)) {
    if (unkeptResponseHeaders.has(name) || (plain.decoded && name === "content-encoding")) continue
    // a session or API token the server hands out (`x-session-token`) is a credential too
    headers[name] = isCredentialName(name) ? redacted : withoutSecrets(canon, value)
  }
  const body = plain.body
  const text = body.toString("utf8")
  if (!Buffer.from(text, "utf8").equals(body)) return { status: response.status, headers, base64: body.toString("base64") }
  const clean = withoutSecrets(canon, text)
  const parsed = clean === "" ? { ok: false as const } : parseJson(clean)
  if (!parsed.ok) return { status: response.status, headers, text: clean }
  // tokens in an answer (`access_token`, `refresh_token` of an OAuth exchange) are not kept either: a
  // replayed answer carries `{redacted}` in their place
  const cleaned = redactJson(parsed.value)
  return cleaned.changed || JSON.stringify(parsed.value) === clean
    ? { status: response.status, headers, json: cleaned.value }
    : { status: response.status, headers, text: clean }
}

/** The bytes of a stored response body. */
export const responseBody = (response: RecordedResponse): Buffer =>
  response.base64 !== undefined
    ? Buffer.from(response.base64, "base64")
    : Buffer.from(response.json !== undefined ? JSON.stringify(response.json) : response.text ?? "", "utf8")

/** Checks a parsed cassette's shape; returns what is wrong, or undefined. */
export const problemOf = (value: unknown): string | undefined => {
  if (typeof value !== "object" || value === null) return "not a JSON object"
  const c = value as Partial<Cassette>
  if (c.version !== 1) return `version ${JSON.stringify(c.version)} (this harness reads version 1)`
  if (typeof c.tests !== "object" || c.tests === null) return "no `tests` object"
  for (const [test, interactions] of Object.entries(c.tests)) {
    if (!Array.isArray(interactions)) return `tests[${JSON.stringify(test)}] is not a list`
    for (const i of interactions as ReadonlyArray<Partial<Interaction>>) {
      if (typeof i?.request?.method !== "string" || typeof i.request.url !== "string") return `a request of "${test}" has no method or url`
      if (!Array.isArray(i.responses) || i.responses.length === 0) return `a request of "${test}" has no responses`
    }
  }
  return undefined
}
