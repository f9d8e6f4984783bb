/**
 * The arguments after `--`, checked before anything runs: parsed by Vitest's own CLI parser and
 * refused when Vitest's own CLI would refuse them (an unknown option like `--shrad 1/2`), instead of being
 * silently ignored by `createVitest`.
 */
import { Data, Effect } from "effect"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** Why the Vitest arguments were refused. */
export const reasons = ["unknown-vitest-option", "invalid-vitest-arguments", "unsupported-vitest-option"] as const

/** Why the Vitest arguments were refused. */
export type VitestArgsReason = typeof reasons[number]

/** The arguments after `--` cannot be handed to Vitest. */
export class VitestArgsError extends Data.TaggedError("VitestArgsError")<{
  readonly reason: VitestArgsReason
  readonly args: ReadonlyArray<string>
  readonly detail: string
}> {
  override get message(): string {
    const given = this.args.join(" ")
    const fix = this.reason === "unsupported-vitest-option"
      ? `drop it: the lane decides it (see \`workflow-live run --help\`).`
      : `correct the spelling (\`npx vitest --help\` lists Vitest's options), e.g. ` +
        `\`workflow-live run -- -t "tender" --shard 1/2\`.`
    return [
      `The arguments after \`--\` were refused (${this.reason}): ${this.detail}`,
      `  Given:  -- ${given}`,
      `  Why:    they go to Vitest; an option Vitest does not know would otherwise be ignored and the whole ` +
      `suite would run (with its real API calls) instead of what you asked for.`,
      `  Fix:    ${fix}`
    ].join("\n")
  }
}

/** The arguments, parsed. */
export interface VitestArgs {
  readonly raw: ReadonlyArray<string>
  /** File filters. */
  readonly filters: ReadonlyArray<string>
  /**
   * Vitest's options (camelCase, as `createVitest` takes them); `undefined` when only file filters were
   * given: there is nothing to check, and Vitest's own parse runs when Vitest starts ({@link optionsOf}).
   */
  readonly options: Readonly<Record<string, unknown>> | undefined
  /** `--watch` / `-w` was given. */
  readonly watch: boolean
}

interface CacOption {
  readonly names: ReadonlyArray<string>
  readonly rawName: string
  readonly required?: boolean | undefined
}

interface Cac {
  parse(argv: ReadonlyArray<string>, options: { run: boolean }): { args: ReadonlyArray<string>; options: Record<string, unknown> }
  readonly globalCommand?: { readonly options?: ReadonlyArray<CacOption> } | undefined
  readonly matchedCommand?: { checkUnknownOptions(): void; checkOptionValue?(): void; readonly options?: ReadonlyArray<CacOption> } | undefined
}

const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/**
 * An option that takes a value (`--config <path>`) given last or right before another option: cac turns
 * some of these into a value of its own (`--config` became the path `true`) instead of refusing them.
 */
const missingValue = (raw: ReadonlyArray<string>, options: ReadonlyArray<CacOption>): string | undefined => {
  for (const [i, arg] of raw.entries()) {
    if (!arg.startsWith("-") || arg === "--") continue
    const eq = arg.indexOf("=")
    const name = camel(arg.slice(0, eq < 0 ? undefined : eq).replace(/^-{1,2}/, ""))
    const option = options.find((o) => o.names.includes(name))
    if (option?.required !== true) continue
    // `--config=` gives an empty value; `--config` with nothing (or another option) after it, none
    const next = raw[i + 1]
    const missing = eq >= 0 ? arg.slice(eq + 1).trim() === "" : next === undefined || next.startsWith("-")
    if (missing) return `option \`${option.rawName}\` value is missing`
  }
  return undefined
}

type ParseCli = (argv: Array<string>) => { filter: ReadonlyArray<string>; options: unknown }

// Vitest's `createCLI` is not exported by name; it sits in the chunk `vitest/node` takes `parseCLI` from.
// Both are taken from that chunk: the rest of `vitest/node` (Vite, the pool) is loaded by the lane while
// preflight and the reset run, not here, before anything runs.
const loadCli = Effect.promise(async (): Promise<{ createCli: (() => Cac) | undefined; parseCli: ParseCli }> => {
  // import.meta.resolve is Node's; under vite-node (a suite that checks arguments) require's resolution finds the same file
  const node = typeof import.meta.resolve === "function"
    ? fileURLToPath(import.meta.resolve("vitest/node"))
    : createRequire(import.meta.url).resolve("vitest/node")
  const chunk = /export \{ p as parseCLI \} from '(\.\/chunks\/cac\.[^']+\.js)'/.exec(readFileSync(node, "utf8"))?.[1]
  const module = chunk === undefined
    ? undefined
    : await import(pathToFileURL(join(dirname(node), chunk)).href) as { c?: () => Cac; p?: ParseCli }
  return {
    createCli: typeof module?.c === "function" ? module.c : undefined,
    parseCli: typeof module?.p === "function" ? module.p : (await import("vitest/node")).parseCLI
  }
})

// decided by the lane: it runs exactly its own project, once or in watch mode, in worker threads (a live
// worker reports its calls to the lane over a channel of this process)
const unsupported = ["project", "ui", "standalone", "mergeReports", "pool"] as const

const fail = (reason: VitestArgsReason, raw: ReadonlyArray<string>, detail: string) =>
  Effect.fail(new VitestArgsError({ reason, args: raw, detail }))

/** Vitest's options for `createVitest`: parsed by Vitest's own CLI parser (see {@link VitestArgs.options}). */
export const optionsOf = async (args: VitestArgs): Promise<Readonly<Record<string, unknown>>> =>
  args.options ?? (await import("vitest/node")).parseCLI(["vitest", "run", ...args.raw]).options as Record<string, unknown>

/**
 * Parses and checks the arguments after `--`. File filters alone (the common case) need no check, and
 * so no Vitest module before anything runs: Vitest is imported while preflight and the reset run.
 */
export const parse = (raw: ReadonlyArray<string>): Effect.Effect<VitestArgs, VitestArgsError> =>
  Effect.gen(function*() {
    if (raw.every((arg) => !arg.startsWith("-"))) return { raw, filters: raw, options: undefined, watch: false }
    const { createCli, parseCli } = yield* loadCli
    const parsed = yield* Effect.try({
      try: () => {
        if (createCli !== undefined) {
          const cli = createCli()
          cli.parse(["node", "vitest", "run", ...raw], { run: false })
          cli.matchedCommand?.checkUnknownOptions()
          // `--shard` with no value: Vitest's own CLI refuses it; createVitest would fail on it after the reset
          cli.matchedCommand?.checkOptionValue?.()
          const missing = missingValue(raw, [...(cli.globalCommand?.options ?? []), ...(cli.matchedCommand?.options ?? [])])
          if (missing !== undefined) throw new Error(missing)
        }
        return parseCli(["vitest", "run", ...raw])
      },
      catch: (e) => e instanceof Error ? e.message : String(e)
    }).pipe(
      Effect.catchAll((detail) =>
        fail(/^Unknown option/.test(detail) ? "unknown-vitest-option" : "invalid-vitest-arguments", raw, detail)
      )
    )
    const options = parsed.options as Record<string, unknown>
    const refused = unsupported.find((name) => options[name] !== undefined)
    if (refused !== undefined) {
      return yield* fail("unsupported-vitest-option", raw, `\`--${refused}\` is not available in the lane`)
    }
    return { raw, filters: parsed.filter, options, watch: options.watch === true }
  })
