/** `workflow-live reset`: swap in the spare (or drop, create or clone), migrate and identity-check the workflow database now. */
import * as Command from "@effect/cli/Command"
import { describe } from "./help.js"
import { lazy } from "./lazy.js"

/** Prints one line per step with its duration as the reset goes; fails (exit 1) with the reset's error. */
export const reset = lazy("reset", {}, () => import("./handlers/reset.js")).pipe(
  Command.withDescription(describe("Swap in the spare (or drop, create or clone the template), migrate and identity-check the workflow database"))
)
