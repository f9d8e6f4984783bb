/** `workflow-live preflight`: every requirement of the lane checked at once; exit 0 to go, non-zero to fix. */
import * as Command from "@effect/cli/Command"
import { describe } from "./help.js"
import { lazy } from "./lazy.js"

/** Prints the report table (JSON copy in `WORKFLOW_LIVE_REPORT_DIR`); fails when the verdict is `fail`. */
export const preflight = lazy("preflight", {}, () => import("./handlers/preflight.js")).pipe(
  Command.withDescription(
    describe("Check env variables, the database and the external APIs at once; print the report and write it as JSON")
  )
)
