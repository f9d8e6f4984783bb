/**
 * The handshake between `workflow-live run` and the live project's global setup. `run` starts Vitest in
 * its own process after doing guard, preflight and reset itself; it leaves this marker on `globalThis`
 * so the global setup does not repeat them. An environment variable could be set by anyone; a value on
 * `globalThis` only by code in this very process, so the marker cannot be used to skip the reset.
 */

/** The `globalThis` key of the marker. */
export const preparedKey: unique symbol = Symbol.for("workflow-live/prepared")

/** What `run` already did before starting Vitest. */
export interface Prepared {
  readonly runId: string
  /** What the workers' HTTP recorder needs (HttpRecorder.Provided); absent when the lane is skipped. */
  readonly http?: import("../HttpRecorder.js").Provided | undefined
  /** Set when preflight skipped the lane: every live test reports as skipped. */
  readonly skipReason: string | null
}

/** The marker left by `run` in this process, if any. */
export const prepared = (): Prepared | undefined =>
  (globalThis as Record<symbol, Prepared | undefined>)[preparedKey]

/** Leaves the marker (only `run` calls this, right before it starts Vitest). */
export const markPrepared = (value: Prepared): void => {
  ;(globalThis as Record<symbol, Prepared | undefined>)[preparedKey] = value
}
