/**
 * The lane's own exit code, for the CLI's last word. Vitest sets `process.exitCode` itself (also while it
 * winds down after a cancel), so the lane keeps its verdict here and the CLI exits with it.
 */

let code: number | undefined

/** Records the lane's exit code (from its report). */
export const setLaneExitCode = (value: number): void => {
  code = value
}

/** The lane's exit code, if a lane ran in this process. */
export const laneExitCode = (): number | undefined => code
