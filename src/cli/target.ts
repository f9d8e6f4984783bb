/** `workflow-live target`: the dry run. Which database would the lane reset, and does the guard accept it? */
import * as Command from "@effect/cli/Command"
import { describe } from "./help.js"
import { lazy } from "./lazy.js"

/** Prints the target and the guard's verdict; fails (exit 1) when the guard refuses. */
export const target = lazy("target", {}, () => import("./handlers/target.js")).pipe(
  Command.withDescription(describe("Show which database the lane would reset, and whether the DSN guard accepts it"))
)
