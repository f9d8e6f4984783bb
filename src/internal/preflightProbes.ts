/**
 * Preflight's probes of what is not the database: each env variable (set, well-formed, secret or not)
 * and each external HTTP API (one request, its own timeout, every failure told apart).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Duration, Effect, Either, Option, ParseResult, Schema } from "effect"
import { classify } from "./pgError.js"
import { fail, type Kind, notChecked, type Outcome, pass, type Reason } from "./preflightReport.js"

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

/** One check to run: its row name, its kind, and the effect that finds its outcome (never failing). */
export interface Check {
  readonly check: string
  readonly kind: Kind
  readonly run: Effect.Effect<Outcome>
}

const maxShown = 120

/** A non-secret value for display: URL credentials masked, long values cut. */
export const display = (value: string): string => {
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

export const envCheck = (requirement: EnvRequirement, value: Option.Option<string>): Check => ({
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

type EnvOutcomes = ReadonlyMap<string, Outcome & { readonly value: Option.Option<string> }>

/** The request a probe sends: the spec's method and path, and its credential if it has one. */
const probeRequest = (requirement: HttpRequirement, url: string, key: Option.Option<string>) => {
  const request = HttpClientRequest.make(requirement.method ?? "GET")(url)
  if (requirement.auth === undefined || Option.isNone(key)) return request
  const scheme = requirement.auth.scheme ?? "Bearer"
  return HttpClientRequest.setHeader(
    request,
    requirement.auth.header ?? "Authorization",
    scheme === "" ? key.value : `${scheme} ${key.value}`
  )
}

/** What an answer's status means. */
const statusOutcome = (requirement: HttpRequirement, target: string, status: number): Outcome => {
  const expected = requirement.expectedStatus
  if (expected === undefined ? status >= 200 && status < 300 : expected.includes(status)) {
    return pass(`${status} from ${target}`)
  }
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
}

/** What a transport failure means, with its fix. */
const transportOutcome = (requirement: HttpRequirement, url: string, target: string, error: unknown): Outcome => {
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
  return fail(problem.reason, `${target}: ${problem.detail}`, fixes[problem.reason]!)
}

/** One request to the API, bounded by its own timeout; no URL (or no key) means no probe. */
export const httpCheck = (requirement: HttpRequirement, env: EnvOutcomes, client: HttpClient.HttpClient): Check => {
  const timeout = Duration.decode(requirement.timeout ?? Duration.seconds(5))
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
    const target = `${requirement.method ?? "GET"} ${display(url).slice(1, -1)}`
    return client.execute(probeRequest(requirement, url, key?.value ?? Option.none())).pipe(
      Effect.map((response) => statusOutcome(requirement, target, response.status)),
      Effect.catchAll((error) => Effect.succeed(transportOutcome(requirement, url, target, error))),
      Effect.timeoutTo({
        duration: timeout,
        onSuccess: (outcome) => outcome,
        onTimeout: () =>
          fail(
            "timeout",
            `${target} did not answer within ${Duration.toMillis(timeout) / 1000} s`,
            `the ${requirement.name} API is too slow or unreachable: check the network path, or raise the ` +
              `timeout of the \`${requirement.name}\` entry in the preflight spec`
          )
      })
    )
  })
  return { check: `http ${requirement.name}`, kind: "http", run }
}
