/** The command line, split at `--`: everything after it belongs to Vitest (@effect/cli would try to parse it). */
const dash = process.argv.indexOf("--")

/** What @effect/cli parses. */
export const argv: ReadonlyArray<string> = dash === -1 ? process.argv : process.argv.slice(0, dash)

/** The arguments for Vitest, checked by `run` and `demo` before anything runs. */
export const passthrough: ReadonlyArray<string> = dash === -1 ? [] : process.argv.slice(dash + 1)
