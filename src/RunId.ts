/**
 * The lane run's ID and the record keys derived from it.
 *
 * One ID per lane run: CI sets `WORKFLOW_LIVE_RUN_ID` from its own run number, otherwise the global
 * setup generates one and hands it to every Vitest worker. Every record a fixture writes carries a key
 * `wl-<run>-<testhash>-<seq>`, so the same run ID and the same test produce the same emails, external
 * ids and names every time: a failure can be reproduced, and its rows found by eye (or swept by prefix).
 */
import { createHash, randomBytes } from "node:crypto"
import { Config, Context, Data, Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"
import { provided } from "./internal/currentTest.js"

/** The variable the run ID is read from (and written to, for workers and subprocesses). */
export const variable = "WORKFLOW_LIVE_RUN_ID"

/** The key under which the global setup provides the run ID to workers (`project.provide` / `inject`). */
export const provideKey = "workflowLiveRunId"

// here, in a module the package's entry exports, so that `inject("workflowLiveRunId")` is typed for its users
declare module "vitest" {
  export interface ProvidedContext {
    /** The lane's run ID (`RunId.provideKey`): `inject("workflowLiveRunId")` in a live test. */
    workflowLiveRunId: string
  }
}

/** Lower-case letters and digits in groups joined by single underscores, at most 32 characters. */
export const pattern: RegExp = /^[a-z0-9]+(?:_[a-z0-9]+)*$/

/** The longest run ID accepted: keys must stay short enough to read and to index. */
export const maxLength = 32

/** The allowed format, in words, for messages and docs. */
export const format =
  "1-32 characters: lower-case letters a-z and digits 0-9, in groups joined by single underscores " +
  "(e.g. `ci_4711` or `20260212t153000_k3f9`)"

/** A validated run ID: safe in SQL identifiers, e-mail local parts, URLs and `LIKE`-free prefix matches. */
export const RunIdString: Schema.brand<Schema.filter<typeof Schema.String>, "workflow-live/RunId"> = Schema.String.pipe(
  Schema.filter((s) => s.length >= 1 && s.length <= maxLength && pattern.test(s), {
    message: () => `expected ${format}`
  }),
  Schema.brand("workflow-live/RunId")
)

/** A run ID that passed {@link RunIdString}. */
export type RunIdString = typeof RunIdString.Type

/** Why a run ID was refused. */
export type RunIdReason = "invalid-run-id"

/** A run ID (from the environment or code) does not have the documented format. */
export class RunIdError extends Data.TaggedError("RunIdError")<{
  readonly reason: RunIdReason
  /** Where the value came from, e.g. `WORKFLOW_LIVE_RUN_ID`. */
  readonly source: string
  /** The refused value, shortened; a run ID is not a secret. */
  readonly value: string
  readonly detail: string
}> {
  override get message(): string {
    return [
      `${this.source} refused (${this.reason}): \`${this.value}\` is not a valid run ID.`,
      `  Detail: ${this.detail}`,
      `  Why:    the run ID is part of every fixture key (e-mails, external ids, names) and of the ` +
      `prefix the sweep and the leak check match on, so it must be safe in all of them.`,
      `  Fix:    ${format}; e.g. export ${variable}=ci_$GITHUB_RUN_ID, or unset it to let the lane generate one.`
    ].join("\n")
  }
}

const shorten = (value: string): string => value.length > 64 ? `${value.slice(0, 64)}… (${value.length} chars)` : value

/** Validates a run ID, with the source named in the error. */
export const decode = (value: string, source: string = variable): Effect.Effect<RunIdString, RunIdError> =>
  Either.match(Schema.decodeUnknownEither(RunIdString)(value), {
    onLeft: (error) =>
      Effect.fail(
        new RunIdError({
          reason: "invalid-run-id",
          source,
          value: shorten(value),
          detail: ParseResult.TreeFormatter.formatErrorSync(error).split("\n").at(-1)?.trim() ?? ""
        })
      ),
    onRight: Effect.succeed
  })

/** A fresh run ID: UTC timestamp to the second (sorts and reads as a time) plus 4 random base-36 chars. */
export const generate = (now: Date = new Date()): RunIdString => {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "").toLowerCase()
  const suffix = [...randomBytes(4)].map((b) => (b % 36).toString(36)).join("")
  return `${stamp}_${suffix}` as RunIdString
}

/**
 * The lane's run ID in one of its Vitest workers (what its global setup provided), else the one from
 * `WORKFLOW_LIVE_RUN_ID` when set (validated), else a generated one.
 */
export const resolve: Effect.Effect<RunIdString, RunIdError | ConfigError> = Effect.suspend(() => {
  const fromLane = provided(provideKey)
  if (typeof fromLane === "string") return decode(fromLane, "the lane's run ID")
  return Effect.flatMap(
    Config.option(Config.string(variable)).pipe(Config.map(Option.filter((v) => v.trim() !== ""))),
    Option.match({ onNone: () => Effect.sync(() => generate()), onSome: (value) => decode(value) })
  )
})

/** The prefix every key of a run starts with; the sweep and the leak check match on it. */
export const prefix = (runId: RunIdString): string => `wl-${runId}-`

/** 8 hex chars of SHA-256 over the test's identity (file + full name): stable across runs and machines. */
export const testHash = (test: string): string => createHash("sha256").update(test).digest("hex").slice(0, 8)

/** The record key for the `seq`-th record of a test: `wl-<run>-<testhash>-<seq>`. */
export const key = (runId: RunIdString, test: string, seq: number): string => `${prefix(runId)}${testHash(test)}-${seq}`

/** The lane's run ID, as a service. */
export interface RunId {
  readonly runId: RunIdString
  /** `wl-<run>-`: every key of the run starts with it. */
  readonly prefix: string
  /** The key for the `seq`-th record of `test`. */
  readonly key: (test: string, seq: number) => string
}

/** The service tag for the run ID. */
export const RunId: Context.Tag<RunId, RunId> = Context.GenericTag<RunId>("workflow-live/RunId")

/** The service for a known run ID. */
export const of = (runId: RunIdString): RunId => ({
  runId,
  prefix: prefix(runId),
  key: (test, seq) => key(runId, test, seq)
})

/** Provides a given run ID (validated). */
export const layer = (runId: string): Layer.Layer<RunId, RunIdError> =>
  Layer.effect(RunId, Effect.map(decode(runId, "RunId.layer"), of))

/**
 * Provides the lane's run ID: in a worker of the lane, the one its global setup handed to every worker;
 * elsewhere `WORKFLOW_LIVE_RUN_ID`, or one generated per process (see {@link resolve}).
 */
export const layerConfig: Layer.Layer<RunId, RunIdError | ConfigError> = Layer.effect(
  RunId,
  Effect.map(resolve, of)
)
