/**
 * A subcommand whose code loads only when it runs. Its name, options and help stay in the start path
 * (they are what `--help` and the parser need, and cost only @effect/cli); its handler module, with the
 * database, Vitest and HTTP code it pulls in, becomes its own bundle chunk. Adding a subcommand is one
 * line in its definition file: `lazy("prune", { ...options }, () => import("./handlers/prune.js"))`.
 */
import * as Command from "@effect/cli/Command"
import { Effect, type Types } from "effect"

/** What a handler module exports: the function `Command.make` would have been given. */
export interface Handler<A, E, R> {
  readonly handler: (args: A) => Effect.Effect<void, E, R>
}

/** `Command.make(name, config, handler)`, with the handler's module imported on the command's first run. */
export const lazy = <Name extends string, const Config extends Command.Command.Config, E, R>(
  name: Name,
  config: Config,
  load: () => Promise<Handler<Types.Simplify<Command.Command.ParseConfig<Config>>, E, R>>
): Command.Command<Name, R, E, Types.Simplify<Command.Command.ParseConfig<Config>>> =>
  Command.make(name, config, (args) => Effect.flatMap(Effect.promise(load), (module) => module.handler(args)))
