/**
 * What a lane is given, checked before any phase runs: the report directory and the lane's settings.
 * A bad value is a typed error naming the setting, why it is refused and the exact fix; nothing is
 * reset, and no stack trace is printed.
 */
import { ConfigError, Data, Effect } from "effect"
import { closeSync, mkdirSync, openSync, rmSync, statSync } from "node:fs"
import { dirname, join, parse, resolve } from "node:path"
import { configProblems } from "./internal/render.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

/** Why an input was refused. */
export const reasons = ["report-dir-not-a-directory", "report-dir-unusable", "invalid-setting"] as const

/** Why an input was refused. */
export type LaneInputReason = typeof reasons[number]

/** A setting or option of the lane has a value the lane cannot use. */
export class LaneInputError extends Data.TaggedError("LaneInputError")<{
  readonly reason: LaneInputReason
  /** The option or variable, e.g. `--report-dir` or `WORKFLOW_LIVE_LOCK_TIMEOUT`. */
  readonly setting: string
  readonly value: string
  readonly detail: string
  readonly fix: string
}> {
  override get message(): string {
    return [
      `${this.setting} refused (${this.reason}): ${this.detail}`,
      `  Given:  ${this.value}`,
      `  Why:    the lane checks its inputs before it resets anything, so a bad value never costs a reset or ` +
      `a half-written report.`,
      `  Fix:    ${this.fix}`
    ].join("\n")
  }
}

const reportDirFix = (setting: string) =>
  `${setting === "--report-dir" ? "pass `--report-dir DIR`" : `export ${setting}=DIR`} with a directory you can ` +
  `write to (it is created if missing), e.g. .workflow-live`

const refuse = (reason: LaneInputReason, setting: string, value: string, detail: string) =>
  new LaneInputError({ reason, setting, value, detail, fix: reportDirFix(setting) })

const codeOf = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? "error"

const isDirectory = (path: string): boolean | undefined => {
  try {
    return statSync(path).isDirectory()
  } catch {
    return undefined
  }
}

// `mkdirSync(..., { recursive: true })` spins forever on some paths (`/proc/x`); one level at a time instead
const makeDirectory = (path: string, setting: string, value: string): void => {
  const exists = isDirectory(path)
  if (exists === true) return
  if (exists === false) throw refuse("report-dir-not-a-directory", setting, value, `${path} is a file, not a directory`)
  const parent = dirname(path)
  if (parent !== path && parent !== parse(path).root) makeDirectory(parent, setting, value)
  try {
    mkdirSync(path)
  } catch (e) {
    if (isDirectory(path) === true) return
    throw refuse("report-dir-unusable", setting, value, `cannot create ${path} (${codeOf(e)})`)
  }
}

const probeWrite = (dir: string, setting: string, value: string): void => {
  const probe = join(dir, `.workflow-live-probe-${process.pid}`)
  try {
    closeSync(openSync(probe, "w"))
    rmSync(probe, { force: true })
  } catch (e) {
    throw refuse("report-dir-unusable", setting, value, `cannot write to ${dir} (${codeOf(e)})`)
  }
}

/** The report directory as an absolute path, created if missing and checked writable. */
export const reportDirectory = (value: string, setting: string = "--report-dir"): Effect.Effect<string, LaneInputError> =>
  Effect.try({
    try: () => {
      const dir = resolve(value)
      makeDirectory(dir, setting, value)
      probeWrite(dir, setting, value)
      return dir
    },
    catch: (e) =>
      e instanceof LaneInputError ? e : refuse("report-dir-unusable", setting, value, e instanceof Error ? e.message : String(e))
  })

const examples: Readonly<Record<string, string>> = {
  [WorkflowLiveConfig.lockTimeoutVariable]: `"60 seconds" (an Effect duration: "500 millis", "5 minutes"; not negative)`
}

/** The lane's settings from the environment, each checked: a bad one names its variable and the fix. */
export const settings: Effect.Effect<WorkflowLiveConfig.WorkflowLiveConfig, LaneInputError> = WorkflowLiveConfig.make.pipe(
  Effect.mapError((error: ConfigError.ConfigError) => {
    const [first] = configProblems(error)
    const setting = first?.setting ?? "a setting"
    return new LaneInputError({
      reason: "invalid-setting",
      setting,
      value: process.env[setting] ?? "(unset)",
      detail: first?.problem ?? String(error),
      fix: `export ${setting}=${examples[setting] ?? "a valid value (see the configuration table in README.md)"}`
    })
  })
)
