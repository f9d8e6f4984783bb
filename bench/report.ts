/**
 * The one convention every benchmark follows so `mise run bench` can print a single table: after its
 * own human-readable output, a bench prints one `BENCH {json}` line per ratio it measured.
 */

/** One measured ratio (or figure) and its target. */
export interface BenchResult {
  readonly bench: string
  readonly metric: string
  readonly value: number
  readonly unit: "x" | "ms" | "statements"
  /** The target, when there is one: `value <= max` passes. */
  readonly max?: number | undefined
}

/** Prints a result for the aggregator. */
export const emit = (result: BenchResult): void => {
  console.log(`BENCH ${JSON.stringify(result)}`)
}

/** The median of a sample. */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
