/**
 * The names of the lane's environment variables and its fixed database names, in one leaf module so that
 * internal helpers can name them in messages; `WorkflowLiveConfig` re-exports them as the public contract.
 */

/** The variable the lane reads its DSN from (and the only one). */
export const dsnVariable = "TENDERBOT_WORKFLOW_DB_DSN"

/** The development DSN variable, never read as a DSN: only noticed, to explain why it is not used. */
export const developmentDsnVariable = "TENDERBOT_DB_DSN"

/** The one database the lane may reset. */
export const workflowDatabase = "tenderbot_workflow_test"

/** The database-level setting that carries the baseline of the run that last took one (LeakCheck). */
export const baselineSetting = "workflow_live.run"

/** The variable that confirms dropping an unmarked workflow database that holds anything. */
export const confirmDropVariable = "WORKFLOW_LIVE_CONFIRM_DROP"

/** The variable naming the migrations directory. */
export const migrationsDirectoryVariable = "WORKFLOW_LIVE_MIGRATIONS_DIR"

/** The variable bounding the wait for the reset lock. */
export const lockTimeoutVariable = "WORKFLOW_LIVE_LOCK_TIMEOUT"

/** The setting that decides what missing env variables and unreachable external APIs do to the lane. */
export const onMissingVariable = "WORKFLOW_LIVE_ON_MISSING"

/** Every accepted value of `WORKFLOW_LIVE_ON_MISSING`; anything else is itself an error. */
export const onMissingValues = ["fail", "skip"] as const

/** `fail` (the default) fails the lane and lists every problem; `skip` reports the whole lane as skipped. */
export type OnMissing = typeof onMissingValues[number]

/** The directory preflight writes its JSON report to (default `.workflow-live` under the working directory). */
export const reportDirVariable = "WORKFLOW_LIVE_REPORT_DIR"

/** The `application_name` every harness connection starts with, so `pg_stat_activity` shows who is who. */
export const applicationName = "workflow-live"

/** The setting that keeps the rows of failed tests in place for inspection (`failed`), instead of sweeping them. */
export const keepVariable = "WORKFLOW_LIVE_KEEP"

/** Every accepted value of `WORKFLOW_LIVE_KEEP` (unset or empty is `none`); anything else is itself an error. */
export const keepValues = ["none", "failed"] as const

/** `none` (the default) sweeps every row of the run; `failed` leaves the rows of failed tests in place. */
export type Keep = typeof keepValues[number]

/** The key under which the lane tells its Vitest workers what to keep (`project.provide` / `inject`). */
export const keepProvideKey = "workflowLiveKeep"

/** `WORKFLOW_LIVE_KEEP` as set: `undefined` when unset or empty, else the trimmed value (maybe not a valid one). */
export const keepSetting = (): string | undefined => {
  const value = (process.env[keepVariable] ?? "").trim()
  return value === "" ? undefined : value
}
