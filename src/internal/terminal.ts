/** Terminal output for the lane: colour only on a TTY without `NO_COLOR`, marks, durations. */

/** Whether to colour output for a stream: only a TTY, and never when `NO_COLOR` is set (https://no-color.org). */
export const colourFor = (stream: { readonly isTTY?: boolean | undefined }): boolean =>
  stream.isTTY === true && (process.env["NO_COLOR"] ?? "") === ""

/** A painter: wraps text in an SGR code when `on`, returns it unchanged otherwise. */
export const painter = (on: boolean) => (code: string, text: string): string =>
  on ? `\u001b[${code}m${text}\u001b[0m` : text

// CSI sequences (colours, cursor moves) as @effect/printer-ansi and Vitest write them
const ansiPattern = /\u001b\[[0-9;?]*[A-Za-z]/g

/** The text without ANSI escape sequences. */
export const stripAnsi = (text: string): string => text.replace(ansiPattern, "")

/** `850 ms`, `2.41 s`. */
export const formatMs = (ms: number): string => ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`

/** The first line of a text, for one-line summaries. */
export const firstLine = (text: string): string => text.split("\n").find((line) => line.trim() !== "")?.trim() ?? ""
