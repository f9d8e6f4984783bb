/**
 * One test file's recorder in a worker: which test is running, the calls' order within it, what failed
 * it, and the dispatchers that answer its calls (an undici Agent live, one recording SnapshotAgent per
 * test, one playback SnapshotAgent per file). `open` installs it as the global dispatcher (and, in
 * replay, the guard on outgoing connections); `close` puts everything back and writes the cassette.
 * The errors it raises are made by the caller (`failures`), so their types stay in the public modules.
 */
import { createRequire } from "node:module"
import type { Dispatcher, SnapshotAgent } from "undici"
import {
  type Canon,
  type CanonicalRequest,
  canonicalUrl,
  type Cassette,
  type Interaction,
  matchOptions,
  outsideTest
} from "./cassette.js"
import type * as Store from "./cassetteStore.js"
import * as EgressGuard from "./egressGuard.js"
import * as GlobalDispatcher from "./globalDispatcher.js"
import * as Ledger from "./ledgerChannel.js"
import type { Candidate } from "./nearestRequest.js"
import * as NodeHttpCalls from "./nodeHttpCalls.js"
import * as Recording from "./recordingDispatcher.js"
import type { RecordingDispatcher, TestName } from "./recordingDispatcher.js"

export { outsideTest } from "./cassette.js"

/** How the caller turns each failure into its own typed error. */
export interface Failures {
  readonly noRecording: (request: CanonicalRequest, test: TestName, candidates: ReadonlyArray<Candidate>) => Error
  readonly escaped: (destination: EgressGuard.Destination, test: TestName) => Error
  readonly refused: (request: CanonicalRequest, test: TestName, refusal: Ledger.Refusal) => Error
  readonly unreachable: (detail: string) => Error
  readonly unwritable: (detail: string) => Error
}

/** What a file's recorder is opened with. */
export interface Options {
  readonly mode: "live" | "record" | "replay"
  readonly canon: Canon
  /** The test file, relative to the working directory (the first part of every test's name). */
  readonly file: string
  readonly cassettePath: string
  /** The file's cassette (record: to merge into; replay: to answer from); `undefined` live. */
  readonly cassette: Cassette | undefined
  readonly ledger: string
  /** Replay: the connections that may still be opened (the workflow database). */
  readonly allowed: (destination: EgressGuard.Destination) => boolean
  readonly failures: Failures
}

/** A test file's recorder. */
export interface Recorder {
  /** The test that starts: its calls are keyed to it. */
  readonly beginTest: (name: string) => void
  /** Ends the test: keeps its recording; returns the errors that fail it (no recording, escaped, budget). */
  readonly endTest: () => Promise<ReadonlyArray<Error>>
  /** Writes the cassette (record), puts the previous dispatcher back, waits for the ledger. */
  readonly close: () => Promise<void>
}

/** Which test is running, each test's call count, and the errors that will fail it. */
const tracker = (file: string, channel: Ledger.LedgerClient) => {
  const name = (key: string): TestName => ({ key, full: `${file} > ${key}` })
  const problems = new Map<string, Array<Error>>()
  const sequence = new Map<string, number>()
  let current = name(outsideTest)
  return {
    name,
    current: () => current,
    begin: (key: string) => void (current = name(key)),
    end: () => void (current = name(outsideTest)),
    next: (test: TestName): number => {
      sequence.set(test.full, (sequence.get(test.full) ?? 0) + 1)
      return sequence.get(test.full)!
    },
    remember: (test: TestName, error: Error, reason: string): Error => {
      problems.set(test.key, [...(problems.get(test.key) ?? []), error])
      channel.problem({ test: test.full, reason, message: error.message })
      return error
    },
    take: (key: string): ReadonlyArray<Error> => {
      const errors = problems.get(key) ?? []
      problems.delete(key)
      return errors
    }
  }
}

type Tracker = ReturnType<typeof tracker>

// live and record: node:http calls bypass fetch, so they are neither recorded nor held back, only counted
const watchNodeHttp = (canon: Canon, channel: Ledger.LedgerClient, t: Tracker): () => void =>
  NodeHttpCalls.watch((call) => {
    const test = t.current()
    const url = canonicalUrl(canon, call.url).split("?")[0]!
    const variable = /^(\{[A-Za-z0-9_]+\})(.*)$/.exec(url)
    const parsed = variable === null ? new URL(url) : undefined
    channel.settle(undefined, {
      test: test.full,
      method: call.method,
      origin: variable?.[1] ?? parsed!.origin,
      path: variable === null ? parsed!.pathname : variable[2] || "/",
      mode: "live",
      seq: t.next(test),
      status: call.status,
      durationMs: call.durationMs,
      model: undefined,
      inputTokens: undefined,
      outputTokens: undefined
    })
  })

/** The dispatcher that answers the file's calls, failing them with the caller's errors. */
const dispatcherFor = (
  o: Options,
  t: Tracker,
  channel: Ledger.LedgerClient,
  inner: (test: TestName) => Dispatcher,
  playback: Store.Playback | undefined,
  undici: Undici
): RecordingDispatcher =>
  Recording.make(undici, {
    mode: o.mode,
    canon: o.canon,
    ledger: {
      ...channel,
      reserve: (call) =>
        channel.reserve(call).catch((error: Error) => {
          throw t.remember(t.current(), o.failures.unreachable(error.message), "ledger-unreachable")
        })
    },
    test: t.current,
    next: t.next,
    inner,
    lookup: (request, test) => {
      const options = matchOptions(request, test.key)
      return playback!.has(options)
        ? options
        : t.remember(test, o.failures.noRecording(request, test, playback!.candidates), "no-recording")
    },
    refused: (request, test, refusal) => t.remember(test, o.failures.refused(request, test, refusal), refusal.reason)
  })

type Undici = typeof import("undici")

/** What answers the file's calls, and what its close must close. */
interface Machinery {
  readonly undici: Undici
  readonly dispatcher: RecordingDispatcher
  /** Record: the test's recording agents, and the store that writes the cassette. */
  readonly recording: Map<string, SnapshotAgent>
  readonly store: typeof Store | undefined
  readonly close: () => Promise<unknown>
}

/** Record and replay: the cassette store and undici's snapshot agents, loaded when the file opens. */
const cassetteMachinery = async (o: Options, t: Tracker, channel: Ledger.LedgerClient): Promise<Machinery> => {
  const [undici, store] = await Promise.all([import("undici"), import("./cassetteStore.js")])
  const playback = o.mode === "replay" ? await store.playback(o.cassette!) : undefined
  const recording = new Map<string, SnapshotAgent>()
  const recordingOf = (key: string): SnapshotAgent => {
    if (!recording.has(key)) recording.set(key, store.recordingAgent())
    return recording.get(key)!
  }
  const inner = (test: TestName): Dispatcher => playback?.agent ?? recordingOf(test.key)
  return {
    undici,
    store,
    recording,
    dispatcher: dispatcherFor(o, t, channel, inner, playback, undici),
    close: () => Promise.all([playback?.close(), ...[...recording.values()].map((a) => a.close())])
  }
}

/**
 * Live: the global dispatcher stands in for the recording one until the file first uses it (a call, or
 * any other property: undici's `request()`, `compose()`), which then loads undici (synchronously: a
 * package of CommonJS modules) and the agent; most live test files make no call and never pay for them.
 */
const liveMachinery = (o: Options, t: Tracker, channel: Ledger.LedgerClient) => {
  let made: Machinery | undefined
  const ensure = (): Machinery => {
    if (made === undefined) {
      const undici = createRequire(import.meta.url)("undici") as Undici
      const agent = new undici.Agent()
      const dispatcher = dispatcherFor(o, t, channel, () => agent, undefined, undici)
      made = { undici, dispatcher, recording: new Map(), store: undefined, close: () => agent.close() }
    }
    return made
  }
  const standIn = new Proxy({}, {
    get: (_, key) => {
      const { dispatcher } = ensure()
      const value: unknown = Reflect.get(dispatcher, key, dispatcher)
      return typeof value === "function" ? value.bind(dispatcher) : value
    },
    has: (_, key) => Reflect.has(ensure().dispatcher, key)
  }) as GlobalDispatcher.Dispatching
  return { standIn, made: () => made }
}

/** Opens the recorder of one test file and installs it; throws the caller's errors. */
export const open = async (o: Options): Promise<Recorder> => {
  const channel = Ledger.connect(o.ledger)
  const t = tracker(o.file, channel)
  const tests: Record<string, ReadonlyArray<Interaction>> = { ...o.cassette?.tests }
  const live = o.mode === "live" ? liveMachinery(o, t, channel) : undefined
  const loaded = live === undefined ? await cassetteMachinery(o, t, channel) : undefined
  const machinery = (): Machinery | undefined => loaded ?? live?.made()
  const previous = GlobalDispatcher.get()
  GlobalDispatcher.set(loaded?.dispatcher ?? live!.standIn)
  const restoreNet = o.mode === "replay"
    ? EgressGuard.install(o.allowed, (d) => t.remember(t.current(), o.failures.escaped(d, t.current()), "escaped"))
    : watchNodeHttp(o.canon, channel, t)
  // record: a test's interactions replace its old ones; a test that called nothing loses them
  const keep = async (key: string): Promise<void> => {
    if (o.mode !== "record") return
    const agent = loaded!.recording.get(key)
    loaded!.recording.delete(key)
    const interactions = agent === undefined ? [] : loaded!.store!.interactionsOf(o.canon, agent)
    if (interactions.length > 0) tests[key] = interactions
    else delete tests[key]
    await agent?.close()
  }
  const ran = new Set<string>()
  return {
    beginTest: (key) => {
      t.begin(key)
      ran.add(key)
    },
    endTest: async () => {
      const key = t.current().key
      t.end()
      await keep(key)
      return t.take(key)
    },
    close: async () => {
      restoreNet()
      const m = machinery()
      // an undici loaded meanwhile found a dispatcher installed and made none: leave it one
      GlobalDispatcher.set(previous ?? (m === undefined ? undefined : new m.undici.Agent()))
      if (ran.size > 0) await keep(outsideTest)
      await channel.flush().catch(() => undefined)
      channel.close()
      await m?.close()
      if (o.mode === "record" && ran.size > 0) write(o, loaded!.store!, { version: 1, file: o.file, tests })
      const outside = t.take(outsideTest)
      if (outside.length > 0) throw outside[0]
    }
  }
}

// a file whose tests call nothing gets no cassette (and loses a stale one)
const write = (o: Options, store: typeof Store, cassette: Cassette): void => {
  try {
    if (Object.keys(cassette.tests).length > 0) store.write(o.cassettePath, cassette)
    else store.remove(o.cassettePath)
  } catch (error) {
    throw o.failures.unwritable((error as Error).message)
  }
}
