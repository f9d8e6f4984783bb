/** `workflow-live preflight`: every requirement of the lane checked at once; exit 0 to go, non-zero to fix. */
import { Console, Effect } from "effect"
import * as Preflight from "../../Preflight.js"

/** Prints the report table (JSON copy in `WORKFLOW_LIVE_REPORT_DIR`); fails when the verdict is `fail`. */
export const handler = () =>
  Effect.gen(function*() {
    const report = yield* Preflight.check()
    yield* Console.log(Preflight.render(report, { colour: Preflight.colourFor(process.stdout) }))
    if (report.verdict === "fail") {
      // the table above is the overview; the error (printed by main) is the list of what to fix
      return yield* new Preflight.PreflightError({ reason: "checks-failed", report })
    }
  })
