/** Renders a failure for a terminal: a typed error's own message, never a stack trace. */
import { Cause, Option } from "effect"

/** The message a person should read for a failed Effect: typed errors by message, defects pretty-printed. */
export const renderCause = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string") {
      return error.message
    }
    return String(error)
  }
  if (Cause.isInterruptedOnly(cause)) return "Interrupted."
  return Cause.pretty(cause)
}
