/**
 * The lane's last line of defence for secrets: whatever text leaves the lane's process (its terminal
 * output, Vitest's, the report files) has every secret the lane knows replaced, even when it arrived in
 * a test's error message (a driver or HTTP error that echoes a URL, a DSN or a header).
 */
import { Effect, type Scope } from "effect"
import { namedCredentials } from "./credentials.js"
import { scrub, secretsOf } from "./redact.js"

/**
 * Every secret the lane knows from its environment: the DSN's password (as written and decoded), the
 * values of `secretVariables` (the spec's API keys), and of every credential-named variable.
 */
export const laneSecrets = (
  env: NodeJS.ProcessEnv,
  dsnVariable: string,
  secretVariables: ReadonlyArray<string>
): ReadonlyArray<string> => {
  const listed = secretVariables.flatMap((v) => {
    const value = env[v]?.trim() ?? ""
    return value === "" ? [] : [value]
  })
  const secrets = [...secretsOf(env[dsnVariable] ?? ""), ...listed, ...namedCredentials(env).map((c) => c.value)]
  // also as text that carries them escaped or encoded: a JSON string (once, or a JSON string in one), a
  // URL component, a whole URL, a form or query string
  const forms = (s: string): ReadonlyArray<string> => [
    s,
    JSON.stringify(s).slice(1, -1),
    JSON.stringify(JSON.stringify(s).slice(1, -1)).slice(1, -1),
    encodeURIComponent(s),
    encodeURI(s),
    new URLSearchParams({ s }).toString().slice(2)
  ]
  return [...new Set(secrets.flatMap(forms))]
}

/** `value` with every string in it scrubbed (objects and arrays copied; other values as they are). */
export const scrubDeep = <A>(value: A, secrets: ReadonlyArray<string>): A => {
  if (secrets.length === 0) return value
  const walk = (v: unknown): unknown =>
    typeof v === "string"
      ? scrub(v, secrets)
      : Array.isArray(v)
      ? v.map(walk)
      : v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype
      ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]))
      : v
  return walk(value) as A
}

type Write = NodeJS.WriteStream["write"]

const scrubbed = (write: Write, secrets: ReadonlyArray<string>): Write =>
  ((chunk: unknown, ...rest: Array<unknown>) => {
    const text = typeof chunk === "string" ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString("utf8") : undefined
    const out = text === undefined ? chunk : scrub(text, secrets)
    return (write as (...args: Array<unknown>) => boolean)(out, ...rest)
  }) as Write

/**
 * Replaces the known secrets in everything this process writes to stdout and stderr (the lane's lines,
 * Vitest's reporter, a test's console output forwarded to it) until the scope closes. A secret split
 * across two writes is not caught; reporters write whole lines.
 */
export const scrubOutput = (secrets: ReadonlyArray<string>): Effect.Effect<void, never, Scope.Scope> =>
  secrets.length === 0
    ? Effect.void
    : Effect.acquireRelease(
      Effect.sync(() => {
        const saved = [process.stdout.write, process.stderr.write] as const
        process.stdout.write = scrubbed(saved[0].bind(process.stdout), secrets)
        process.stderr.write = scrubbed(saved[1].bind(process.stderr), secrets)
        return saved
      }),
      ([out, err]) =>
        Effect.sync(() => {
          process.stdout.write = out
          process.stderr.write = err
        })
    ).pipe(Effect.asVoid)
