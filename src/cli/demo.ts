/** `workflow-live demo`: the real lane against a throwaway PostgreSQL from npm and local API stand-ins. */
import * as Command from "@effect/cli/Command"
import { describe } from "./help.js"
import { lazy } from "./lazy.js"

/** The zero-setup demo; the arguments after `--` go to Vitest as in `run`. */
export const demo = lazy("demo", {}, () => import("./handlers/demo.js")).pipe(
  Command.withDescription(describe(
    "Zero-setup demo: a throwaway PostgreSQL from npm and local API stand-ins, then the real lane against them.",
    ["USAGE: workflow-live demo [-- vitest args]"]
  ))
)
