/**
 * The first SIGINT or SIGTERM this process received. The CLI's runtime turns a signal into an
 * interruption; this remembers which signal it was, for the lane's message and its exit code (130/143).
 */

/** The signals the lane handles. */
export type LaneSignal = "SIGINT" | "SIGTERM"

let received: LaneSignal | undefined
let receivedAt: number | undefined
let watching = false

/** Starts remembering the first SIGINT/SIGTERM (idempotent; the listeners do nothing else). */
export const watch = (): void => {
  if (watching) return
  watching = true
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (received !== undefined) return
      received = signal
      receivedAt = performance.now()
    })
  }
}

/** The first signal received since {@link watch}, if any. */
export const receivedSignal = (): LaneSignal | undefined => received

/** When the first signal arrived, on `performance.now()`'s scale. */
export const receivedSignalAt = (): number | undefined => receivedAt

/** The conventional exit code for a signal: 128 + its number. */
export const exitCodeFor = (signal: LaneSignal): number => signal === "SIGINT" ? 130 : 143
