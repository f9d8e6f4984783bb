/**
 * For a request replay has no answer to: the recorded request closest to it, and how the two differ,
 * down to the JSON path of a changed body field, so the message says what changed (a prompt, a date
 * in the query, the model) rather than only that something did.
 */
import type { CanonicalRequest } from "./cassette.js"

/** A recorded request and where it came from. */
export interface Candidate {
  readonly test: string
  readonly request: CanonicalRequest
}

/** The nearest recorded request and the differences, most important first. */
export interface Nearest {
  readonly candidate: Candidate
  readonly differences: ReadonlyArray<string>
}

const maxShown = 70

/** Both values cut to the same window around their first difference. */
const around = (recorded: string, sent: string): readonly [string, string] => {
  let start = 0
  while (start < recorded.length && start < sent.length && recorded[start] === sent[start]) start++
  // from the start when the difference is visible from there; else from a little before it
  const from = start + 20 <= maxShown ? 0 : start - 20
  const cut = (text: string) =>
    `${from > 0 ? "…" : ""}${text.slice(from, from + maxShown)}${text.length > from + maxShown ? "…" : ""}`
  return [cut(recorded), cut(sent)]
}

const quoted = (recorded: string, sent: string): string => {
  const [r, s] = around(recorded, sent)
  return `recorded ${JSON.stringify(r)}, sent ${JSON.stringify(s)}`
}

const leaves = (value: unknown, path: string, out: Map<string, string>): Map<string, string> => {
  if (Array.isArray(value)) value.forEach((item, i) => leaves(item, `${path}[${i}]`, out))
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) leaves(v, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, out)
  } else out.set(path, typeof value === "string" ? value : JSON.stringify(value))
  return out
}

const json = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const bodyDifferences = (recorded: string, sent: string): ReadonlyArray<string> => {
  if (recorded === sent) return []
  const [a, b] = [json(recorded), json(sent)]
  if (a === undefined || b === undefined || typeof a !== "object" || typeof b !== "object") {
    return [`body: ${quoted(recorded, sent)}`]
  }
  const [left, right] = [leaves(a, "$", new Map()), leaves(b, "$", new Map())]
  const paths = [...new Set([...left.keys(), ...right.keys()])].filter((p) => left.get(p) !== right.get(p))
  const shown = paths.slice(0, 3).map((p) =>
    !left.has(p)
      ? `body ${p}: not recorded, sent ${JSON.stringify(around("", right.get(p)!)[1])}`
      : !right.has(p)
      ? `body ${p}: recorded ${JSON.stringify(around(left.get(p)!, "")[0])}, not sent`
      : `body ${p}: ${quoted(left.get(p)!, right.get(p)!)}`
  )
  return paths.length > 3 ? [...shown, `body: ${paths.length - 3} more field(s) differ`] : shown
}

const split = (url: string): readonly [string, string] => {
  const q = url.indexOf("?")
  return q < 0 ? [url, ""] : [url.slice(0, q), url.slice(q + 1)]
}

/** How `sent` differs from `recorded`, most important first (empty: they are the same request). */
export const differences = (recorded: CanonicalRequest, sent: CanonicalRequest): ReadonlyArray<string> => {
  const [rPath, rQuery] = split(recorded.url)
  const [sPath, sQuery] = split(sent.url)
  return [
    ...(recorded.method === sent.method ? [] : [`method: recorded ${recorded.method}, sent ${sent.method}`]),
    ...(rPath === sPath ? [] : [`path: ${quoted(rPath, sPath)}`]),
    ...(rQuery === sQuery ? [] : [`query: ${quoted(rQuery, sQuery)}`]),
    ...(recorded.contentType === sent.contentType
      ? []
      : [`content-type: recorded ${recorded.contentType ?? "none"}, sent ${sent.contentType ?? "none"}`]),
    ...bodyDifferences(recorded.body, sent.body)
  ]
}

// method and path outweigh the query, which outweighs the body: the nearest request is the same call
const weight = (recorded: CanonicalRequest, sent: CanonicalRequest): number => {
  const [rPath, rQuery] = split(recorded.url)
  const [sPath, sQuery] = split(sent.url)
  return (recorded.method === sent.method ? 0 : 8) + (rPath === sPath ? 0 : 4) + (rQuery === sQuery ? 0 : 2) +
    (recorded.contentType === sent.contentType ? 0 : 1) + (recorded.body === sent.body ? 0 : 1)
}

/** The nearest candidate: the test's own recordings first, then the file's. */
export const nearest = (sent: CanonicalRequest, test: string, candidates: ReadonlyArray<Candidate>): Nearest | undefined => {
  const own = candidates.filter((c) => c.test === test)
  const pool = own.length > 0 ? own : candidates
  let best: Candidate | undefined
  let bestWeight = Number.POSITIVE_INFINITY
  for (const candidate of pool) {
    const w = weight(candidate.request, sent)
    if (w < bestWeight) [best, bestWeight] = [candidate, w]
  }
  return best === undefined ? undefined : { candidate: best, differences: differences(best.request, sent) }
}
