/**
 * Record and replay of the live tests' HTTP calls, on undici's `SnapshotAgent`. One setting,
 * `WORKFLOW_LIVE_HTTP`: `live` (the default) calls the APIs; `record` calls them and writes every
 * request and response of each test to a cassette (one JSON file per test file, entries keyed by test
 * name and request, secrets removed); `replay` answers from the cassettes and makes no external
 * connection at all: a request without a recording fails its test, and so does any connection that
 * does not go through fetch (node:http, a raw socket), so replay never silently goes live.
 *
 * The lane prepares the run in its main thread ({@link prepare}); each worker installs the recorder
 * for its test file ({@link install}, from `vitest/httpRecorder.ts`).
 */
import { Config, Data, Effect, Option } from "effect"
import { existsSync, readdirSync } from "node:fs"
import { isAbsolute, join, relative, resolve } from "node:path"
import * as CostLedger from "./CostLedger.js"
import { type Canon, type CanonicalRequest, type Cassette, outsideTest as outside, placeholderOrigin } from "./internal/cassette.js"
import type * as Store from "./internal/cassetteStore.js"
import type * as EgressGuard from "./internal/egressGuard.js"
import type * as FileRecorder from "./internal/fileRecorder.js"
import { type Candidate, nearest } from "./internal/nearestRequest.js"
import type { TestName } from "./internal/recordingDispatcher.js"
import { namedCredentials } from "./internal/credentials.js"

/** The setting that chooses live, record or replay. */
export const modeVariable = "WORKFLOW_LIVE_HTTP"
/** The setting naming the cassette directory. */
export const cassettesVariable = "WORKFLOW_LIVE_CASSETTES"
/** Where cassettes go by default (relative to the working directory). */
export const defaultCassettes = "test/workflow_live/__cassettes__"

/** Every mode. */
export const modes = ["live", "record", "replay"] as const

/** How the live tests' HTTP calls are answered. */
export type Mode = typeof modes[number]

/** Every reason the recorder fails a setting, a test or the run. */
export const reasons = [
  "invalid-mode",
  "no-recording",
  "escaped",
  "unreadable-cassette",
  "unwritable-cassette",
  "wrong-pool"
] as const

/** Why the recorder failed. */
export type Reason = typeof reasons[number]

/** A bad setting, a request replay cannot answer, a connection that escaped, a cassette problem. */
export class HttpRecorderError extends Data.TaggedError("HttpRecorderError")<{
  readonly reason: Reason
  /** The test, as `<file> > <describe> > <test>`, when a test is concerned. */
  readonly test: string | undefined
  /** What happened, already free of secrets. */
  readonly detail: string
  /** Extra lines: the nearest recorded request and how it differs. */
  readonly context: ReadonlyArray<string>
  /** The exact fix. */
  readonly fix: string
}> {
  override get message(): string {
    const why: Record<Reason, string> = {
      "invalid-mode": "a mistyped mode must not silently call live, paid APIs",
      "no-recording": "in replay nothing goes to the network; every request must match a recorded one (method, " +
        "URL, content type and body)",
      "escaped": "in replay no external connection is made; only fetch requests are answered from cassettes, and " +
        "this one bypassed fetch (node:http, a raw socket, a client with its own connection pool)",
      "unreadable-cassette": "a cassette that cannot be read cannot answer its requests",
      "unwritable-cassette": "a recording that is not written cannot be replayed",
      "wrong-pool": "the run's ledger and budget live in the lane's process and are reached from its worker threads"
    }
    return [
      `${this.detail}${this.test === undefined ? "" : ` (test "${this.test}")`}`,
      ...this.context.map((line) => `  ${line}`),
      `  Why: ${why[this.reason]}.`,
      `  Fix: ${this.fix}`
    ].join("\n")
  }
}

/** The recorder's settings. */
export interface Settings {
  readonly mode: Mode
  /** Absolute path of the cassette directory. */
  readonly cassettes: string
}

const optional = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((value) => value.trim() !== "")))

/** Reads and checks `WORKFLOW_LIVE_HTTP` and `WORKFLOW_LIVE_CASSETTES` (an `--http` option overrides the mode). */
export const settings = (override?: string | undefined): Effect.Effect<Settings, HttpRecorderError> =>
  Effect.gen(function*() {
    const [mode, dir] = yield* Effect.orDie(Config.all([optional(modeVariable), optional(cassettesVariable)]))
    const value = (override ?? Option.getOrElse(mode, () => "live")).trim()
    if (!(modes as ReadonlyArray<string>).includes(value)) {
      return yield* new HttpRecorderError({
        reason: "invalid-mode",
        test: undefined,
        detail: `${override === undefined ? modeVariable : "--http"}=${JSON.stringify(value.slice(0, 40))} is not a mode`,
        context: [],
        fix: `use live (call the APIs, the default), record (call them and write cassettes) or replay (answer ` +
          `from cassettes): export ${modeVariable}=replay, or workflow-live run --http=replay`
      })
    }
    return { mode: value as Mode, cassettes: resolve(Option.getOrElse(dir, () => defaultCassettes)) }
  })

/** What the lane hands each worker (through Vitest's `provide`): plain, cloneable data, no secret. */
export interface Provided {
  readonly mode: Mode
  readonly cassettes: string
  /** The ledger's channel (see CostLedger). */
  readonly ledger: string
  /** The lane's process: workers elsewhere (pool `forks`) cannot reach the ledger. */
  readonly lanePid: number
  /** Variables holding base URLs, written `{NAME}` in cassettes. */
  readonly baseVariables: ReadonlyArray<string>
  /** Variables holding secrets, removed from cassettes and messages. */
  readonly secretVariables: ReadonlyArray<string>
  /** `host:port` of the connections replay lets through (the workflow database). */
  readonly allow: ReadonlyArray<string>
}

/** The key the lane provides {@link Provided} under. */
export const provideKey = "workflowLiveHttp"

declare module "vitest" {
  export interface ProvidedContext {
    workflowLiveHttp: Provided | undefined
  }
}

/** The APIs a suite calls, as the preflight spec lists them: base URL variables and credential variables. */
export interface Apis {
  readonly baseVariables: ReadonlyArray<string>
  readonly secretVariables: ReadonlyArray<string>
}

/** What {@link prepare} did: what the workers need, and for the report, the cassettes found. */
export interface Prepared {
  readonly provided: Provided
  readonly cassetteCount: number
  /** Replay: the variables that were unset and now hold a placeholder (`http://….invalid`, never reached). */
  readonly placeholders: ReadonlyArray<string>
}

/** Counts the cassette files under `dir`. */
export const countCassettes = (dir: string): number => {
  if (!existsSync(dir)) return 0
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith(".json"))
    .length
}

/**
 * The run's side, in the lane's main thread, before Vitest starts. In replay, the API variables that
 * are unset get placeholders, so the code under test can build its clients; the placeholder hosts end
 * in `.invalid` and never resolve.
 */
export const prepare = (
  s: Settings,
  options: { readonly apis: Apis; readonly ledger: CostLedger.CostLedger; readonly allow: ReadonlyArray<string> }
): Prepared => {
  const placeholders: Array<string> = []
  if (s.mode === "replay") {
    for (const variable of [...options.apis.baseVariables, ...options.apis.secretVariables]) {
      if ((process.env[variable] ?? "").trim() !== "") continue
      process.env[variable] = options.apis.baseVariables.includes(variable)
        ? placeholderOrigin(variable)
        : "replay-placeholder"
      placeholders.push(variable)
    }
  }
  return {
    provided: {
      mode: s.mode,
      cassettes: s.cassettes,
      ledger: options.ledger.channel,
      lanePid: process.pid,
      baseVariables: options.apis.baseVariables,
      secretVariables: options.apis.secretVariables,
      allow: options.allow
    },
    cassetteCount: countCassettes(s.cassettes),
    placeholders
  }
}

/**
 * The cassette of a test file: under the cassette directory, named after the file. Named relative to the
 * cassette directory's parent only when both sit inside the project, so a name never depends on where the
 * project was cloned; else the project-relative path, flattened.
 */
export const cassetteFor = (cassettes: string, testFile: string): string => {
  const within = (base: string, path: string): string | undefined => {
    const inside = relative(base, path)
    return inside.startsWith("..") || isAbsolute(inside) ? undefined : inside
  }
  const parent = resolve(cassettes, "..")
  const name = (within(process.cwd(), parent) !== undefined ? within(parent, testFile) : undefined) ??
    relative(process.cwd(), testFile).replace(/[\\/]/g, "__")
  return join(cassettes, `${name}.json`)
}

// ---------------------------------------------------------------------------------------------------
// The worker's side
// ---------------------------------------------------------------------------------------------------

/** The name calls outside any test (a suite's `beforeAll`, a layer) are kept under. */
export const outsideTest: string = outside

/** A test file's recorder in a worker (see {@link install}). */
export type Recorder = FileRecorder.Recorder

const canonFrom = (provided: Provided): Canon => {
  const values = (variables: ReadonlyArray<string>) =>
    variables.flatMap((variable) => {
      const value = process.env[variable]?.trim() ?? ""
      return value === "" ? [] : [{ variable, value }]
    })
  // a credential-named variable no spec lists (a new API's key) is a secret too
  const named = namedCredentials(process.env).filter((c) => !provided.secretVariables.includes(c.variable))
  return { bases: values(provided.baseVariables), secrets: [...values(provided.secretVariables), ...named] }
}

const loopback = new Set(["localhost", "127.0.0.1", "::1", "[::1]"])

const isAllowed = (allow: ReadonlyArray<string>) => (d: EgressGuard.Destination): boolean =>
  allow.some((entry) => {
    const at = entry.lastIndexOf(":")
    const [host, port] = [entry.slice(0, at), Number(entry.slice(at + 1))]
    return port === d.port && (host === d.host || (loopback.has(host) && loopback.has(d.host)))
  })

// a path for a message: relative to the working directory when it is below it
const shownPath = (path: string): string => {
  const inside = relative(process.cwd(), path)
  return inside.startsWith("..") || isAbsolute(inside) ? path : inside
}

const noRecording = (cassette: string) =>
(request: CanonicalRequest, test: TestName, candidates: ReadonlyArray<Candidate>): HttpRecorderError => {
  const near = nearest(request, test.key, candidates)
  return new HttpRecorderError({
    reason: "no-recording",
    test: test.full,
    detail: `Replay has no recording for ${request.method} ${request.url}`,
    context: [
      `Cassette: ${shownPath(cassette)}`,
      ...(near === undefined
        ? ["It holds no recorded request."]
        : [
          `Nearest recorded request${near.candidate.test === test.key ? "" : ` (of test "${near.candidate.test}")`}: ` +
          `${near.candidate.request.method} ${near.candidate.request.url}`,
          ...near.differences.map((d) => `  ${d}`)
        ])
    ],
    fix: `record it again: workflow-live run --http=record -- -t ${JSON.stringify(test.key.split(" > ").at(-1))} ` +
      `(or ${modeVariable}=record), then commit ${shownPath(cassette)}`
  })
}

const failures = (cassette: string): FileRecorder.Failures => ({
  noRecording: noRecording(cassette),
  escaped: (destination, test) =>
    new HttpRecorderError({
      reason: "escaped",
      test: test.full,
      detail: `Replay refused a connection to ${destination.host}:${destination.port}`,
      context: [],
      fix: "send the request with fetch (for example @effect/platform's FetchHttpClient) so it can be recorded and " +
        `replayed, or run this test live (${modeVariable}=live)`
    }),
  refused: (request, test, refusal) =>
    new CostLedger.BudgetExceeded({ reason: refusal.reason, test: test.full, request: `${request.method} ${request.url}`, refusal }),
  unreachable: (detail) => new CostLedger.CostLedgerError({ reason: "ledger-unreachable", detail }),
  unwritable: (detail) =>
    new HttpRecorderError({
      reason: "unwritable-cassette",
      test: undefined,
      detail: `The cassette ${shownPath(cassette)} could not be written: ${detail}`,
      context: [],
      fix: `make ${shownPath(resolve(cassette, ".."))} writable, or point ${cassettesVariable} at a writable directory`
    })
})

const readCassette = (store: typeof Store, path: string, testFile: string): Cassette => {
  const result = store.read(path, relative(process.cwd(), testFile))
  if ("cassette" in result) return result.cassette
  throw new HttpRecorderError({
    reason: "unreadable-cassette",
    test: undefined,
    detail: `The cassette ${shownPath(path)} cannot be read: ${result.problem}`,
    context: [],
    fix: `delete it and record again (${modeVariable}=record), or restore it from version control`
  })
}

/**
 * Installs the recorder for one test file in this worker: the global undici dispatcher (which `fetch`
 * uses) and, in replay, the guard on outgoing connections. Throws {@link HttpRecorderError}. The recorder's
 * modules load here, in the worker: the lane's main thread, which imports this module for its settings,
 * never pays for them; live, undici itself loads only with the file's first call.
 */
export const install = (provided: Provided, testFile: string): Promise<Recorder> => {
  if (process.pid !== provided.lanePid) {
    throw new HttpRecorderError({
      reason: "wrong-pool",
      test: undefined,
      detail: "This live test file runs in another process than the lane (Vitest pool `forks` or `vmForks`)",
      context: [],
      fix: "set `pool: \"threads\"` in the workflow-live project of vitest.config.ts"
    })
  }
  const cassettePath = cassetteFor(provided.cassettes, testFile)
  // live, the cassette store (and undici with it) is not loaded here: most live files make no call
  const store = provided.mode === "live" ? Promise.resolve(undefined) : import("./internal/cassetteStore.js")
  return Promise.all([import("./internal/fileRecorder.js"), store]).then(([recorder, store]) =>
    recorder.open({
      mode: provided.mode,
      canon: canonFrom(provided),
      file: relative(process.cwd(), testFile),
      cassettePath,
      cassette: store === undefined ? undefined : readCassette(store, cassettePath, testFile),
      ledger: provided.ledger,
      allowed: isAllowed(provided.allow),
      failures: failures(cassettePath)
    })
  )
}
