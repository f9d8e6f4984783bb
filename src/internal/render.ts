/** Renders a failure for a terminal: a typed error's own message, never a stack trace. */
import { Cause, ConfigError, Option } from "effect"

/** Each setting a ConfigError names, with what is wrong with it (`WORKFLOW_LIVE_LOCK_TIMEOUT: Expected a duration ...`). */
export const configProblems = (error: ConfigError.ConfigError): ReadonlyArray<{ readonly setting: string; readonly problem: string }> =>
  ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left, right) => [...left, ...right],
    orCase: (_, left, right) => [...left, ...right],
    invalidDataCase: (_, path, message) => [{ setting: path.join("."), problem: message }],
    missingDataCase: (_, path, message) => [{ setting: path.join("."), problem: message }],
    sourceUnavailableCase: (_, path, message) => [{ setting: path.join("."), problem: message }],
    unsupportedCase: (_, path, message) => [{ setting: path.join("."), problem: message }]
  })

const renderError = (error: unknown): string => {
  if (ConfigError.isConfigError(error)) {
    return configProblems(error).map(({ problem, setting }) => `${setting}: ${problem}`).join("\n")
  }
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
    return error.message
  }
  return String(error)
}

/** The message a person should read for a failed Effect: typed errors by message, defects pretty-printed. */
export const renderCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return renderError(failure.value)
  if (Cause.isInterruptedOnly(cause)) return "Interrupted."
  return Cause.pretty(cause)
}
