/**
 * How a lane that started Vitest itself (`workflow-live run`, `demo`) tells the live project's global
 * setup that guard, preflight and reset already ran. The value rides on the Vitest instance the lane
 * created, under a registered symbol: no config file, environment variable or other process can set it,
 * so it cannot be used to skip the reset. No runtime import here: the global setup loads this on its
 * fast path.
 */

const key: unique symbol = Symbol.for("workflow-live/lane")

/** What the lane hands to the global setup. */
export interface Handoff {
  readonly runId: string
  /** Set when preflight skipped the lane. */
  readonly skip: string | undefined
}

/** Attaches the lane's values to the Vitest instance it created. */
export const attach = (vitest: object, handoff: Handoff): void => {
  ;(vitest as Record<symbol, Handoff | undefined>)[key] = handoff
}

/** The values of the lane that created this Vitest instance, if a lane did. */
export const read = (vitest: object): Handoff | undefined => (vitest as Record<symbol, Handoff | undefined>)[key]
