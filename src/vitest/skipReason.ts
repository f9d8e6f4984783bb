/**
 * How the live project's global setup tells its workers that preflight skipped the lane. No runtime
 * import of `vitest` here: the global setup runs outside the workers and may not load it.
 */

/** The key under which the global setup provides the skip reason (absent: the lane runs). */
export const skipKey = "workflowLiveSkip"

declare module "vitest" {
  export interface ProvidedContext {
    workflowLiveSkip: string | undefined
  }
}
