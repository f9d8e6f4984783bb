/**
 * Preflight's steps around the probes: the on-missing policy as a check of its own, the variables'
 * values (and the secrets every row is scrubbed of), the env outcomes that gate the HTTP probes, the
 * replay stand-ins for the probes, and the timing of a check. `Preflight` runs them in order.
 */
import { Config, Duration, Effect, Option, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as Probes from "./preflightProbes.js"
import * as Reporting from "./preflightReport.js"
import { secretsOf } from "./redact.js"
import { type OnMissing, onMissingValues, onMissingVariable } from "./variables.js"

/** What the steps read of a spec: its variables and its APIs. */
export interface Needs {
  readonly env: ReadonlyArray<Probes.EnvRequirement>
  readonly http: ReadonlyArray<Probes.HttpRequirement>
}

/** HTTP replay: the APIs are answered from these cassettes. */
export interface Replay {
  readonly cassettes: number
  readonly dir: string
}

/** The policy, and the check that reports it. */
export interface Policy {
  readonly policy: OnMissing
  readonly check: Probes.Check
}

/** Step 1: the policy setting is itself a check: a typo must not silently mean "fail" or "skip". */
export const readPolicy = (
  override: OnMissing | undefined,
  setting: Config.Config<Option.Option<string>>
): Effect.Effect<Policy, ConfigError> =>
  Effect.map(setting, (raw) => {
    const value = override ?? Option.getOrElse(raw, () => "fail")
    const valid = (onMissingValues as ReadonlyArray<string>).includes(value)
    const policy: OnMissing = valid ? value as OnMissing : "fail"
    const check: Probes.Check = {
      check: `setting ${onMissingVariable}`,
      kind: "setting",
      run: Effect.succeed(
        valid
          ? Reporting.pass(`${policy}${Option.isNone(raw) && override === undefined ? " (default)" : ""}`)
          : Reporting.fail(
            "invalid-policy",
            `${Probes.display(value)} is neither \`fail\` nor \`skip\``,
            `export ${onMissingVariable}=fail (the default: missing things fail the lane) or ` +
              `=skip (missing variables and unreachable APIs skip it)`
          )
      )
    }
    return { policy, check }
  })

/** Every variable's value (blank counts as unset), the DSN kept redacted, and the secrets to scrub. */
export interface Values<L> {
  readonly variables: ReadonlySet<string>
  readonly values: ReadonlyMap<string, Option.Option<string>>
  readonly dsn: Option.Option<Redacted.Redacted<string>>
  readonly laneConfig: L
  readonly secretVariables: ReadonlySet<string>
  readonly secrets: ReadonlyArray<string>
}

/**
 * Step 2: every variable the spec names, read after the others: the DSN, from the lane's configuration
 * unless the guard reads another variable.
 */
export const readValues = <L extends { readonly dsn: Option.Option<Redacted.Redacted<string>> }>(
  spec: Needs,
  dsnVariable: string,
  guard: { readonly variable?: string | undefined },
  laneConfig: Config.Config<L>
): Effect.Effect<Values<L>, ConfigError> =>
  Effect.gen(function*() {
    const variables = new Set<string>([
      ...spec.env.map((e) => e.variable),
      ...spec.http.flatMap((h) => [h.urlVariable, ...(h.auth === undefined ? [] : [h.auth.variable])])
    ])
    variables.delete(dsnVariable)
    const values = new Map<string, Option.Option<string>>()
    for (const variable of variables) {
      values.set(variable, Option.filter(yield* Config.option(Config.string(variable)), (v) => v.trim().length > 0))
    }
    const lane = yield* laneConfig
    const dsn = guard.variable === undefined
      ? lane.dsn
      : yield* Config.option(Config.redacted(dsnVariable)).pipe(
        Config.map(Option.filter((value) => Redacted.value(value).trim().length > 0))
      )
    values.set(dsnVariable, Option.map(dsn, Redacted.value))
    const secretVariables = new Set([
      ...spec.env.filter((e) => e.secret).map((e) => e.variable),
      ...spec.http.flatMap((h) => (h.auth === undefined ? [] : [h.auth.variable]))
    ])
    return {
      variables,
      values,
      dsn,
      laneConfig: lane,
      secretVariables,
      secrets: secretsIn(values, secretVariables, dsnVariable, dsn)
    }
  })

const secretsIn = (
  values: ReadonlyMap<string, Option.Option<string>>,
  secretVariables: ReadonlySet<string>,
  dsnVariable: string,
  dsn: Option.Option<Redacted.Redacted<string>>
): ReadonlyArray<string> => [
  ...[...secretVariables].filter((v) => v !== dsnVariable).flatMap((v) => Option.toArray(values.get(v) ?? Option.none())),
  ...Option.match(dsn, { onNone: () => [], onSome: (value) => secretsOf(Redacted.value(value)) }),
  ...[...values.values()].flatMap((value) => {
    // a password written into an API URL is a secret too
    try {
      return Option.isSome(value) && new URL(value.value).password !== "" ? [new URL(value.value).password] : []
    } catch {
      return []
    }
  })
]

/** An env check; in replay an API variable may be unset (the recorder gives the code under test a placeholder). */
export const envCheck = (spec: Needs, replay: Replay | undefined) =>
(requirement: Probes.EnvRequirement, value: Option.Option<string>): Probes.Check =>
  replay !== undefined && Option.isNone(value) &&
    spec.http.some((h) => h.urlVariable === requirement.variable || h.auth?.variable === requirement.variable)
    ? { check: `env ${requirement.variable}`, kind: "env", run: Effect.succeed(Reporting.pass("not set: not needed in replay")) }
    : Probes.envCheck(requirement, value)

/** In replay an API is answered from cassettes: nothing to probe, but no cassette at all is a wrong directory. */
export const replayCheck = (replay: Replay) => (requirement: Probes.HttpRequirement): Probes.Check => ({
  check: `http ${requirement.name}`,
  kind: "http",
  run: Effect.succeed(
    replay.cassettes > 0
      ? Reporting.pass(`replay: ${replay.cassettes} cassette(s) in ${replay.dir}, not probed`)
      : Reporting.fail(
        "no-cassettes",
        `replay: no cassette in ${replay.dir}`,
        "record first (workflow-live run --http=record, or WORKFLOW_LIVE_HTTP=record), or point " +
          "WORKFLOW_LIVE_CASSETTES at the directory that holds them"
      )
  )
})

/** An env outcome with the value it judged, for the HTTP probes. */
export type EnvOutcome = Reporting.Outcome & { readonly value: Option.Option<string> }

/** Step 3: the env outcomes, synchronously: they gate the HTTP probes (no URL, no probe). */
export const envOutcomes = (
  spec: Needs,
  read: Values<unknown>,
  replay: Replay | undefined
): Effect.Effect<ReadonlyMap<string, EnvOutcome>> =>
  Effect.gen(function*() {
    const outcomes = new Map<string, EnvOutcome>()
    for (const variable of read.variables) {
      const requirement = spec.env.find((e) => e.variable === variable) ??
        { variable, required: true, secret: read.secretVariables.has(variable), description: variable, example: "..." }
      const outcome = yield* envCheck(spec, replay)(requirement, read.values.get(variable)!).run
      outcomes.set(variable, { ...outcome, value: read.values.get(variable)! })
    }
    return outcomes
  })

/** A check with its outcome and how long it took. */
export type Timed = Probes.Check & { readonly outcome: Reporting.Outcome; readonly ms: number }

/** A check, timed (`Effect.timed`); a check that itself breaks becomes a failed row, never an error. */
export const timed = (check: Probes.Check): Effect.Effect<Timed> =>
  Effect.timed(check.run.pipe(
    Effect.catchAllCause((cause) =>
      Effect.succeed(Reporting.fail(
        check.kind === "http" ? "network-error" : "database-error",
        `the check itself failed: ${String(cause).split("\n")[0]}`,
        "report this as a harness bug"
      ))
    )
  )).pipe(Effect.map(([duration, outcome]) => ({ ...check, outcome, ms: Math.round(Duration.toMillis(duration)) })))
