/**
 * The kept rows of a lane run (`WORKFLOW_LIVE_KEEP=failed`): per failed test, its fixture keys, its rows per
 * table, and a `psql` command that shows them. Computed once into the report, so the terminal, report.json
 * and summary.md show the same command. The password is never part of it: `PGPASSWORD` (or ~/.pgpass) is
 * left to the user.
 */

/** The rows one failed test left in place. */
export interface KeptTest {
  /** The test file, relative to the project root. */
  readonly file: string
  /** Describe blocks and test name, joined by ` > `. */
  readonly name: string
  /** Its fixture keys (`wl-<run>-<testhash>-<seq>`) on customers and tenders. */
  readonly keys: ReadonlyArray<string>
  /** Rows kept per table. */
  readonly rows: Readonly<Record<string, number>>
  /** Their primary keys per table. */
  readonly ids: Readonly<Record<string, ReadonlyArray<string>>>
  /** A ready-to-paste `psql` command (no password) that prints the kept rows. */
  readonly psql: string
}

/** Where the kept rows are: the workflow database's connection fields, without the password. */
export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
}

/** How to connect, and how long the rows stay. */
export const hint = "set PGPASSWORD (or use ~/.pgpass); the next run's reset removes the kept rows"

const shellWord = (word: string): string => /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`

/** One `SELECT` per table, by primary key: `SELECT * FROM customers WHERE id IN (3, 4) ORDER BY id`. */
export const queries = (ids: Readonly<Record<string, ReadonlyArray<string>>>): ReadonlyArray<string> =>
  Object.entries(ids).filter(([, list]) => list.length > 0).map(([table, list]) =>
    // table names are the fixtures' own, ids digits (both read from the catalog and the rows)
    `SELECT * FROM ${table} WHERE id IN (${list.join(", ")}) ORDER BY id`
  )

/** `psql -h HOST -p PORT -U USER -d DB -c '<select>' ...`, one `-c` per table (psql runs them in order). */
export const psqlCommand = (endpoint: Endpoint, ids: Readonly<Record<string, ReadonlyArray<string>>>): string =>
  [
    "psql",
    "-h",
    shellWord(endpoint.host),
    "-p",
    String(endpoint.port),
    "-U",
    shellWord(endpoint.user),
    "-d",
    shellWord(endpoint.database),
    ...queries(ids).flatMap((q) => ["-c", shellWord(q)])
  ].join(" ")

const counts = (rows: Readonly<Record<string, number>>): string =>
  Object.entries(rows).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(", ")

/** The terminal lines of the kept rows (empty when nothing was kept). */
export const renderTerminal = (kept: ReadonlyArray<KeptTest> | null): ReadonlyArray<string> =>
  kept === null || kept.length === 0 ? [] : [
    `  kept for inspection (WORKFLOW_LIVE_KEEP=failed), not swept: the rows of ${kept.length} failed test(s)`,
    ...kept.flatMap((test) => [
      `    ✗ ${test.file} > ${test.name}`,
      `      keys: ${test.keys.length === 0 ? "(none)" : test.keys.join(", ")}`,
      `      rows: ${counts(test.rows) || "(none)"}`,
      ...(Object.keys(test.ids).length === 0 ? [] : [`      ${test.psql}`])
    ]),
    // the hint is about the psql commands: none when the failed tests left no rows
    ...(kept.some((test) => Object.keys(test.ids).length > 0) ? [`    ${hint}`] : [])
  ]

/** The summary.md lines of the kept rows (empty when nothing was kept). */
export const renderMarkdown = (kept: ReadonlyArray<KeptTest> | null): ReadonlyArray<string> =>
  kept === null || kept.length === 0 ? [] : [
    `**Kept for inspection** (\`WORKFLOW_LIVE_KEEP=failed\`, not swept` +
    `${kept.some((test) => Object.keys(test.ids).length > 0) ? `; ${hint}` : ""}):`,
    "",
    ...kept.flatMap((test) => [
      `- \`${test.file} > ${test.name}\`: ${counts(test.rows) || "no rows"}; keys ${test.keys.map((k) => `\`${k}\``).join(", ") || "(none)"}`,
      ...(Object.keys(test.ids).length === 0 ? [] : ["", "  ```sh", `  ${test.psql}`, "  ```"])
    ]),
    ""
  ]
