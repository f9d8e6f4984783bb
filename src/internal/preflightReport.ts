/**
 * Preflight's report: the rows, the one rule that turns rows into a verdict under the on-missing policy,
 * and the report's two views (a terminal table and a JSON file). `Preflight` re-exports the types.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { resolve as resolvePath } from "node:path"
import { namedProblems } from "./pgError.js"
import { type OnMissing, onMissingVariable } from "./variables.js"

/** Every row reason, for docs and tests. */
export const reasons = [
  "invalid-policy",
  "missing-variable",
  "malformed-variable",
  "not-checked",
  "guard-refused",
  ...namedProblems,
  "database-error",
  "server-too-old",
  "no-createdb",
  "no-baseline-privilege",
  "missing-extension",
  "not-enough-connections",
  "identity-mismatch",
  "unmarked-database-not-empty",
  "not-listening",
  "unauthorized",
  "server-error",
  "unexpected-status",
  "network-error",
  "no-cassettes"
] as const

/** Why a row did not pass. */
export type Reason = typeof reasons[number]

/** A row's outcome: `skipped` is either "not checked, an earlier check failed" or "skipped by policy". */
export type Status = "pass" | "fail" | "skipped"

/** What a row checked. */
export type Kind = "setting" | "env" | "database" | "http"

/** One check's result. Every text is already free of secrets. */
export interface Row {
  readonly check: string
  readonly kind: Kind
  readonly status: Status
  /** Why it did not pass; `undefined` for a pass. */
  readonly reason: Reason | undefined
  /** Whether `WORKFLOW_LIVE_ON_MISSING=skip` may skip this failure. */
  readonly skippable: boolean
  readonly durationMs: number
  /** What the check found. */
  readonly found: string
  /** What to do about it; `undefined` for a pass. */
  readonly fix: string | undefined
}

/** The whole preflight: one row per check, and what it means for the lane. */
export interface Report {
  /** `pass`: run the lane; `skip`: report every live test as skipped; `fail`: refuse to run. */
  readonly verdict: Verdict
  readonly policy: OnMissing
  readonly startedAt: string
  readonly durationMs: number
  readonly rows: ReadonlyArray<Row>
  /** Why the lane is skipped, for `verdict: "skip"`. */
  readonly skipReason: string | undefined
  /** Where the JSON copy of this report was written, if it was. */
  readonly file: string | undefined
}

/** What the lane does: run, report every live test as skipped, or refuse. */
export type Verdict = "pass" | "fail" | "skip"

/** What one check found, before the policy is applied. */
export interface Outcome {
  readonly status: "pass" | "fail" | "not-checked"
  readonly reason: Reason | undefined
  readonly found: string
  readonly fix: string | undefined
}

/** A check that passed. */
export const pass = (found: string): Outcome => ({ status: "pass", reason: undefined, found, fix: undefined })
/** A check that failed, with its fix. */
export const fail = (reason: Reason, found: string, fix: string): Outcome => ({ status: "fail", reason, found, fix })
/** A check that could not run because the one it needs failed. */
export const notChecked = (found: string, fix: string): Outcome => ({ status: "not-checked", reason: "not-checked", found, fix })

// an external API that cannot be reached right now; every database problem, credential or malformed value
// is a problem of the lane's own setup and never skippable
const unreachableApi: ReadonlyArray<Reason> = ["not-listening", "unknown-host", "timeout", "server-error", "network-error"]

/**
 * Whether `WORKFLOW_LIVE_ON_MISSING=skip` may turn this failure into a skipped lane: a variable that is
 * not set (the DSN included), or an external API that cannot be reached. Nothing about the database.
 */
export const isSkippable = (kind: Kind, reason: Reason | undefined): boolean =>
  reason === "missing-variable" || (kind === "http" && reason !== undefined && unreachableApi.includes(reason))

/** The row's status under the policy. */
export const statusOf = (kind: Kind, outcome: Outcome, policy: OnMissing): Status =>
  outcome.status === "pass"
    ? "pass"
    : outcome.status === "not-checked"
    ? "skipped"
    : policy === "skip" && isSkippable(kind, outcome.reason)
    ? "skipped"
    : "fail"

/**
 * The one rule every entry point uses (`workflow-live preflight`, `run`, the Vitest start), so they
 * cannot disagree: any failed row fails; otherwise a row skipped by the policy skips; otherwise pass.
 */
export const decide = (rows: ReadonlyArray<Row>, policy: OnMissing): { readonly verdict: Verdict; readonly skipReason: string | undefined } => {
  if (rows.some((row) => row.status === "fail")) return { verdict: "fail", skipReason: undefined }
  const skipped = rows.filter((row) => row.status === "skipped" && row.reason !== "not-checked")
  if (skipped.length === 0) return { verdict: "pass", skipReason: undefined }
  return {
    verdict: "skip",
    skipReason: `${onMissingVariable}=${policy} and ${skipped.map((row) => `${row.check}: ${row.found}`).join("; ")}`
  }
}

// Unlike `scrub`, short secrets are masked too: a report is no place for any part of a key.
const scrubAll = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.filter((secret) => secret.length > 0).reduce((acc, secret) => acc.split(secret).join("*****"), text)

/** A finished check as a row, under the policy, with every secret masked. */
export const toRow = (
  entry: { readonly check: string; readonly kind: Kind; readonly outcome: Outcome; readonly ms: number },
  policy: OnMissing,
  secrets: ReadonlyArray<string>
): Row => ({
  check: entry.check,
  kind: entry.kind,
  status: statusOf(entry.kind, entry.outcome, policy),
  reason: entry.outcome.reason,
  skippable: isSkippable(entry.kind, entry.outcome.reason),
  durationMs: entry.ms,
  found: scrubAll(entry.outcome.found, secrets),
  fix: entry.outcome.fix === undefined ? undefined : scrubAll(entry.outcome.fix, secrets)
})

/** Writes the report as JSON to `<dir>/preflight.json`; a write failure is noted, never fatal. */
export const writeReport = (report: Report, dir: string): Report => {
  const file = resolvePath(dir, "preflight.json")
  const withFile: Report = { ...report, file }
  try {
    mkdirSync(resolvePath(dir), { recursive: true })
    writeFileSync(file, `${JSON.stringify(withFile, null, 2)}\n`)
    return withFile
  } catch {
    return report
  }
}

const ansi = (code: string, on: boolean) => (text: string): string => on ? `\u001b[${code}m${text}\u001b[0m` : text

/** The report as a table for a terminal. */
export const render = (report: Report, options: { readonly colour: boolean }): string => {
  const bold = ansi("1", options.colour)
  const paint = (status: Status | Verdict): (text: string) => string =>
    status === "pass" ? ansi("32", options.colour) : status === "fail" ? ansi("31;1", options.colour) : ansi("33", options.colour)
  const label = (status: Status): string => status === "pass" ? "pass" : status === "fail" ? "FAIL" : "skipped"
  const failed = report.rows.filter((row) => row.status === "fail").length
  const skipped = report.rows.filter((row) => row.status === "skipped").length
  const verdict = report.verdict === "pass" ? "PASS" : report.verdict === "fail" ? "FAIL" : "SKIPPED"
  const width = Math.max(...report.rows.map((row) => row.check.length), 5)
  const lines = [
    `${bold("workflow-live preflight:")} ${paint(report.verdict)(verdict)}  ` +
    `(${report.rows.length} checks, ${failed} failed, ${skipped} skipped, ${report.durationMs} ms; ` +
    `${onMissingVariable}=${report.policy})`,
    "",
    `  ${bold(`${"status".padEnd(8)}${"check".padEnd(width + 2)}${"time".padStart(7)}  found`)}`
  ]
  for (const row of report.rows) {
    const reason = row.reason === undefined || row.reason === "not-checked" ? "" : ` [${row.reason}]`
    lines.push(
      `  ${paint(row.status)(label(row.status).padEnd(8))}${row.check.padEnd(width + 2)}` +
        `${`${row.durationMs} ms`.padStart(7)}  ${row.found}${reason}`
    )
    // a row that was not checked is fixed by fixing the row it waits for
    if (row.status !== "pass" && row.reason !== "not-checked" && row.fix !== undefined) {
      lines.push(`  ${" ".repeat(8 + width + 2 + 7)}  fix: ${row.fix}`)
    }
  }
  if (report.skipReason !== undefined) lines.push("", paint("skip")(`  The lane is SKIPPED: ${report.skipReason}`))
  lines.push("", `  Report (JSON): ${report.file ?? "not written"}`)
  return lines.join("\n")
}
