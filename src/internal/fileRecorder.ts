/**
 * One test file's recorder in a worker: which test is running, the calls' order within it, what failed
 * it, and the dispatchers that answer its calls (an undici Agent live, one recording SnapshotAgent per
 * test, one playback SnapshotAgent per file). `open` installs it as the global dispatcher (and, in
 * replay, the guard on outgoing connections); `close` puts everything back and writes the cassette.
 * The errors it raises are made by the caller (`failures`), so their types stay in the public modules.
 */
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
  Recording: typeof RecordingDispatcher
): RecordingDispatcher =>
  new Recording({
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

/** What answers the file's calls: undici's agents behind the recording dispatcher, and the cassette store. */
const machinery = async (o: Options, t: Tracker, channel: Ledger.LedgerClient) => {
  const [undici, store, { RecordingDispatcher: Recording }] = await Promise.all([
    import("undici"),
    import("./cassetteStore.js"),
    import("./recordingDispatcher.js")
  ])
  const playback = o.mode === "replay" ? await store.playback(o.cassette!) : undefined
  const live = o.mode === "live" ? new undici.Agent() : undefined
  const recording = new Map<string, SnapshotAgent>()
  const recordingOf = (key: string): SnapshotAgent => {
    if (!recording.has(key)) recording.set(key, store.recordingAgent())
    return recording.get(key)!
  }
  const inner = (test: TestName): Dispatcher => live ?? playback?.agent ?? recordingOf(test.key)
  const dispatcher = dispatcherFor(o, t, channel, inner, playback, Recording)
  return {
    undici,
    store,
    dispatcher,
    recording,
    close: () => Promise.all([playback?.close(), live?.close(), ...[...recording.values()].map((a) => a.close())])
  }
}

type Machinery = Awaited<ReturnType<typeof machinery>>

/**
 * Live, the global dispatcher first stands in for the recording one, which (with undici) loads at the
 * file's first call: each call keeps the test and position it was made in.
 */
const standIn = (load: () => Promise<Machinery>, t: Tracker): GlobalDispatcher.Dispatching => ({
  dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean => {
    const test = t.current()
    const seq = t.next(test)
    load().then(
      (m) => m.dispatcher.dispatchAs(options, handler, test, seq),
      (error: unknown) => GlobalDispatcher.failCall(handler, error instanceof Error ? error : new Error(String(error)))
    )
    return true
  }
} as unknown as GlobalDispatcher.Dispatching)

/** Opens the recorder of one test file and installs it; throws the caller's errors. */
export const open = async (o: Options): Promise<Recorder> => {
  const channel = Ledger.connect(o.ledger)
  const t = tracker(o.file, channel)
  const tests: Record<string, ReadonlyArray<Interaction>> = { ...o.cassette?.tests }
  let loading: Promise<Machinery> | undefined
  const load = () => (loading ??= machinery(o, t, channel))
  // record and replay need it at once (the cassette); live, most files make no call and never load it
  const loaded = o.mode === "live" ? undefined : await load()
  const previous = GlobalDispatcher.get()
  GlobalDispatcher.set(loaded?.dispatcher ?? standIn(load, t))
  const restoreNet = o.mode === "replay"
    ? EgressGuard.install(o.allowed, (d) => t.remember(t.current(), o.failures.escaped(d, t.current()), "escaped"))
    : watchNodeHttp(o.canon, channel, t)
  // record: a test's interactions replace its old ones; a test that called nothing loses them
  const keep = async (key: string): Promise<void> => {
    if (o.mode !== "record") return
    const m = await load()
    const agent = m.recording.get(key)
    m.recording.delete(key)
    const interactions = agent === undefined ? [] : m.store.interactionsOf(o.canon, agent)
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
      const m = loading === undefined ? undefined : await loading.catch(() => undefined)
      // an undici loaded meanwhile found a dispatcher installed and made none: leave it one
      GlobalDispatcher.set(previous ?? (m === undefined ? undefined : new m.undici.Agent()))
      if (ran.size > 0) await keep(outsideTest)
      await channel.flush().catch(() => undefined)
      channel.close()
      await m?.close()
      if (o.mode === "record" && ran.size > 0) write(o, m!.store, { version: 1, file: o.file, tests })
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
