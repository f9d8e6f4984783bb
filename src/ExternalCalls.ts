/**
 * The run's external calls, as the lane sees them: the recorder's mode (live, record, replay) and the
 * run's one ledger (calls, tokens, cost, budget). The lane reads the settings with its other inputs,
 * starts both after the reset ({@link start}: the ledger lives in the lane's main thread, the recorder
 * in each worker), hands the workers what they need through Vitest's `provide`, and puts the result in
 * its report ({@link Report}: the `http` and `cost` sections).
 */
import { Effect, type Scope } from "effect"
import * as CostLedger from "./CostLedger.js"
import * as HttpRecorder from "./HttpRecorder.js"
import type * as Preflight from "./Preflight.js"

/** The settings of both, checked with the lane's other inputs. */
export interface Settings {
  readonly http: HttpRecorder.Settings
  readonly ledger: CostLedger.Settings
}

/** Reads `WORKFLOW_LIVE_HTTP` (or the `--http` option), the cassette directory, the budget and the prices. */
export const settings = (
  httpOverride?: string | undefined
): Effect.Effect<Settings, HttpRecorder.HttpRecorderError | CostLedger.CostLedgerError> =>
  Effect.all({ http: HttpRecorder.settings(httpOverride), ledger: CostLedger.settings })

/** What preflight needs to know in replay: the APIs are not probed, their variables not required. */
export const preflightReplay = (s: Settings): Preflight.Options["replay"] =>
  s.http.mode === "replay"
    ? { cassettes: HttpRecorder.countCassettes(s.http.cassettes), dir: s.http.cassettes }
    : undefined

/** The report's `http` section: the mode, and per test how many calls were live, recorded or replayed. */
export interface HttpSection {
  readonly mode: HttpRecorder.Mode
  readonly cassettes: string
  readonly cassetteCount: number
  /** Replay: API variables that were unset and got a placeholder that never resolves. */
  readonly placeholders: ReadonlyArray<string>
  readonly tests: ReadonlyArray<{ readonly test: string; readonly live: number; readonly recorded: number; readonly replayed: number }>
}

/** Both sections of the report. */
export interface Report {
  readonly http: HttpSection
  readonly cost: CostLedger.Summary
}

/** The run's external calls, started. */
export interface Run {
  /** For the workers, under {@link HttpRecorder.provideKey}. */
  readonly provided: HttpRecorder.Provided
  readonly report: () => Report
}

/** The APIs of a preflight spec: base URL variables, and the credential and other secret variables. */
export const apisOf = (spec: Preflight.Spec, dsnVariable: string): HttpRecorder.Apis => ({
  baseVariables: spec.http.map((h) => h.urlVariable),
  secretVariables: [
    ...spec.http.flatMap((h) => h.auth === undefined ? [] : [h.auth.variable]),
    ...spec.env.filter((e) => e.secret && e.variable !== dsnVariable).map((e) => e.variable)
  ].filter((v, i, all) => all.indexOf(v) === i)
})

/**
 * Starts the run's ledger (until the scope closes) and prepares the workers' recorder. `allow` lists the
 * `host:port` replay may still connect to: the workflow database.
 */
export const start = (
  s: Settings,
  options: { readonly apis: HttpRecorder.Apis; readonly allow: ReadonlyArray<string> }
): Effect.Effect<Run, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ledger = yield* CostLedger.make(s.ledger)
    const prepared = HttpRecorder.prepare(s.http, { ...options, ledger })
    return {
      provided: prepared.provided,
      report: () => {
        const cost = ledger.summary()
        return {
          http: {
            mode: s.http.mode,
            cassettes: s.http.cassettes,
            cassetteCount: prepared.cassetteCount,
            placeholders: prepared.placeholders,
            tests: cost.tests.map(({ live, recorded, replayed, test }) => ({ test, live, recorded, replayed }))
          },
          cost
        }
      }
    }
  })

/** Why the run's external calls fail the lane (the budget was exceeded), or `undefined`. */
export const problem = (report: Report): string | undefined => {
  const e = report.cost.budget.exceeded
  return e === null
    ? undefined
    : `budget exceeded (${e.reason}, ${e.setting}=${e.limit}) at ${e.request} in "${e.test}"` +
      (e.overrun ? " (the call had been sent)" : "; the call was not sent")
}

const httpLine = (http: HttpSection): string =>
  `http: ${http.mode}` +
  (http.mode === "live" ? "" : ` (${http.mode === "replay" ? `${http.cassetteCount} cassette(s) in ` : "cassettes in "}${http.cassettes})`) +
  (http.placeholders.length === 0 ? "" : `; placeholders for ${http.placeholders.join(", ")}`)

/** The terminal summary's lines. */
export const renderTerminal = (report: Report): ReadonlyArray<string> => [
  `  ${httpLine(report.http)}`,
  `  ${CostLedger.render(report.cost)}`
]

/** summary.md's lines: the mode, then the cost table. */
export const renderMarkdown = (report: Report): ReadonlyArray<string> => [
  `${httpLine(report.http)}.`,
  "",
  CostLedger.renderMarkdown(report.cost)
]
