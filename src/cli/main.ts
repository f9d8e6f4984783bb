/**
 * The `workflow-live` command: one process for the whole lane. Only the commands' definitions load here
 * (what the parser and `--help` need); each command's code is its own chunk, loaded when it runs (lazy.ts).
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Effect, Layer } from "effect"
import packageJson from "../../package.json" with { type: "json" }
import { argv } from "./argv.js"
import { demo } from "./demo.js"
import { describe } from "./help.js"
import { preflight } from "./preflight.js"
import { runMain } from "./process.js"
import { prune } from "./prune.js"
import { reset } from "./reset.js"
import { run } from "./run.js"
import { target } from "./target.js"

const root = Command.make("workflow-live").pipe(
  Command.withDescription(describe(
    "Live workflow tests against PostgreSQL: guard, preflight, reset and run.",
    [
      "USAGE: workflow-live target | preflight | reset | run [--report-dir DIR] [--stand-ins] [--watch] [--http MODE] [--keep-failed] [-- vitest args] | demo [-- vitest args] | prune [--dry-run]",
      // @effect/cli lists the commands with their usage only: what each does, in a line
      [
        "  target     which database the lane would reset, and whether the DSN guard accepts it (no connection)",
        "  preflight  check the variables, the database and the APIs at once; print the report, write preflight.json",
        "  reset      reset tenderbot_workflow_test now: swap in the spare, or create or clone it and migrate",
        "  run        the lane: guard, preflight, reset, the workflow-live tests, leak check, sweep, report",
        "  demo       the lane on a throwaway PostgreSQL with local API stand-ins, all removed after",
        "  prune      drop the harness's stale databases on the server (--dry-run lists them)"
      ].join("\n"),
      "`workflow-live <command> --help` shows a command's options."
    ]
  )),
  // each is a `lazy` command: its definition here, its handler loaded when it runs
  Command.withSubcommands([target, preflight, reset, run, demo, prune])
)

const cli = Command.run(root, { name: "workflow-live", version: packageJson.version })

const usageFix = "  Fix: `workflow-live --help` lists the commands, `workflow-live <command> --help` their options; " +
  "arguments for Vitest go after `--` (`workflow-live run -- -t \"tender\"`).\n"

runMain(
  // what @effect/cli needs, and no more: NodeContext also sets up a command executor and a worker
  // manager, which no command uses, on every start
  cli(argv).pipe(Effect.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer))),
  {
    // @effect/cli printed what was wrong with the command line; add where the right form is
    reported: (failure) => {
      if (!ValidationError.isValidationError(failure)) return false
      process.stderr.write(usageFix)
      return true
    },
    exitCode: (failure) => ValidationError.isValidationError(failure) ? 2 : undefined
  }
)
