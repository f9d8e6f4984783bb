/**
 * The comparison behind `DbAssert.exactly`, and its words: expected rows matched to actual rows as a set
 * on the fields each expected row names, the rest paired by likeness so a failure can show, per row,
 * the compared fields side by side. Fields nobody compared never appear.
 */

/** A row as compared: field name to value. */
export type Row = Readonly<Record<string, unknown>>

/** One expected row and what became of it. */
export type Outcome =
  | { readonly kind: "equal"; readonly expected: Row; readonly actual: Row }
  | { readonly kind: "differs"; readonly expected: Row; readonly actual: Row; readonly fields: ReadonlyArray<string> }
  | { readonly kind: "missing"; readonly expected: Row }

/** The whole comparison: one outcome per expected row, in order, and the actual rows nobody expected. */
export interface Comparison {
  readonly outcomes: ReadonlyArray<Outcome>
  readonly unexpected: ReadonlyArray<Row>
}

/** A value as the message shows it and as the comparison sees it (dates as ISO strings). */
export const show = (value: unknown): string =>
  value === undefined ? "(no such field)" : JSON.stringify(value, (_k, v) => (v instanceof Date ? v.toISOString() : v))

const same = (expected: Row, actual: Row, key: string): boolean => show(expected[key]) === show(actual[key])

const differing = (expected: Row, actual: Row): ReadonlyArray<string> =>
  Object.keys(expected).filter((key) => !same(expected, actual, key))

/** Matches exactly first (order ignored), then pairs each unmatched expected row with its likeliest actual row. */
export const compare = (expected: ReadonlyArray<Row>, actual: ReadonlyArray<Row>): Comparison => {
  const left = [...actual]
  const exact = expected.map((want) => {
    const i = left.findIndex((row) => differing(want, row).length === 0)
    return i === -1 ? undefined : left.splice(i, 1)[0]
  })
  const outcomes = expected.map((want, n): Outcome => {
    const hit = exact[n]
    if (hit !== undefined) return { kind: "equal", expected: want, actual: hit }
    if (left.length === 0) return { kind: "missing", expected: want }
    // the actual row sharing the most compared values is the one the test most likely meant
    const scores = left.map((row) => Object.keys(want).length - differing(want, row).length)
    const best = scores.indexOf(Math.max(...scores))
    const row = left.splice(best, 1)[0]!
    return { kind: "differs", expected: want, actual: row, fields: differing(want, row) }
  })
  return { outcomes, unexpected: left }
}

/** Whether the comparison found the rows expected. */
export const passed = (comparison: Comparison): boolean =>
  comparison.unexpected.length === 0 && comparison.outcomes.every((o) => o.kind === "equal")

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`

/** The first line: "1 row differs in `alert_profiles`: keywords; 1 unexpected row". */
export const headline = (table: string, comparison: Comparison): string => {
  const differs = comparison.outcomes.filter((o) => o.kind === "differs")
  const missing = comparison.outcomes.filter((o) => o.kind === "missing").length
  const fields = [...new Set(differs.flatMap((o) => o.kind === "differs" ? o.fields : []))]
  const parts = [
    differs.length === 0 ? "" : `${plural(differs.length, "row differs", "rows differ")} in \`${table}\`: ${fields.join(", ")}`,
    missing === 0 ? "" : `${plural(missing, "expected row is", "expected rows are")} missing from \`${table}\``,
    comparison.unexpected.length === 0
      ? ""
      : `${plural(comparison.unexpected.length, "unexpected row", "unexpected rows")} in \`${table}\``
  ].filter((part) => part !== "")
  return parts.join("; ")
}

/** The fields shown for an unexpected row: those the test compared, else the row's id and label. */
export const shownFields = (expected: ReadonlyArray<Row>, label: string): ReadonlyArray<string> => {
  const compared = [...new Set(expected.flatMap((row) => Object.keys(row)))]
  return compared.length === 0 ? ["id", label] : compared
}

/** `row` with only `keys`. */
export const project = (row: Row, keys: ReadonlyArray<string>): Row =>
  Object.fromEntries(keys.filter((k) => k in row).map((k) => [k, row[k]]))

const clip = (text: string, width: number): string => text.length <= width ? text : `${text.slice(0, width - 1)}…`

/** Field, expected and actual in columns; a `✗` marks each field that differs. */
const table = (
  rows: ReadonlyArray<readonly [field: string, expected: string, actual: string, differs: boolean]>
): ReadonlyArray<string> => {
  const fieldWidth = Math.max(5, ...rows.map(([f]) => f.length))
  const valueWidth = Math.min(48, Math.max(8, ...rows.map(([, e]) => e.length)))
  const line = (mark: string, f: string, e: string, a: string) =>
    `  ${mark} ${f.padEnd(fieldWidth)}  ${clip(e, valueWidth).padEnd(valueWidth)}  ${a}`.trimEnd()
  return [line(" ", "field", "expected", "actual"), ...rows.map(([f, e, a, d]) => line(d ? "✗" : " ", f, e, clip(a, 80)))]
}

const idOf = (row: Row): string => row["id"] === undefined ? "" : ` (id ${show(row["id"])})`

/** Every row that is not as expected, compared fields only, expected and actual side by side. */
export const details = (comparison: Comparison, shown: ReadonlyArray<string>): ReadonlyArray<string> => {
  const lines: Array<string> = []
  comparison.outcomes.forEach((outcome, n) => {
    if (outcome.kind === "equal") return
    const keys = Object.keys(outcome.expected)
    if (outcome.kind === "differs") {
      lines.push(`  expected row ${n + 1} differs from the row${idOf(outcome.actual)}:`)
      lines.push(...table(keys.map((k) =>
        [k, show(outcome.expected[k]), show(outcome.actual[k]), outcome.fields.includes(k)] as const
      )))
    } else {
      lines.push(`  expected row ${n + 1} is missing (no row left to compare it with):`)
      lines.push(...table(keys.map((k) => [k, show(outcome.expected[k]), "-", true] as const)))
    }
  })
  for (const row of comparison.unexpected) {
    lines.push(`  unexpected row${idOf(row)}:`)
    lines.push(...table(shown.map((k) => [k, "-", show(row[k]), true] as const)))
  }
  return lines
}

/**
 * The two sides Vitest diffs: each expected row next to its actual row, both cut to the fields the test
 * named, then the unexpected rows cut to `shown`. Equal rows stay, so the diff lines up.
 */
export const sides = (
  comparison: Comparison,
  shown: ReadonlyArray<string>
): { readonly expected: ReadonlyArray<Row>; readonly actual: ReadonlyArray<Row> } => ({
  expected: comparison.outcomes.map((o) => o.expected),
  actual: [
    ...comparison.outcomes.flatMap((o) => o.kind === "missing" ? [] : [project(o.actual, Object.keys(o.expected))]),
    ...comparison.unexpected.map((row) => project(row, shown))
  ]
})
