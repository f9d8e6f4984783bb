/**
 * `workflow-live reset` with no options, as its own entry: bin/workflow-live.js runs this bundle in place of
 * the full CLI. A CLI reset is a whole process a user waits for, and most of it is loading code: without
 * @effect/cli's parser and help, the other commands' definitions and the platform services they ask for,
 * the process is a fifth shorter (docs/performance.md). Its output, errors and exit codes are the full
 * CLI's (process.ts); anything else on the command line (`reset --help`) goes to the full CLI.
 */
import { handler } from "./handlers/reset.js"
import { runMain } from "./process.js"

runMain(handler())
