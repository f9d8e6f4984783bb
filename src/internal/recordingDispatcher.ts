/**
 * The undici dispatcher a live worker installs as the global one, so that every `fetch` (Node's own,
 * `@effect/platform`'s FetchHttpClient, undici's) passes through it. Per call it reads the body, puts
 * the request in canonical form, asks the run's ledger before anything is sent (live, record), or
 * looks the request up in the cassette (replay); then it hands the call to the inner dispatcher (an
 * undici Agent, or a SnapshotAgent that records or plays back) and reports the finished call, with
 * status, time and the LLM usage read from the response, to the ledger.
 */
import { performance } from "node:perf_hooks"
import type { Dispatcher } from "undici"
import { type Canon, canonical, type CanonicalRequest, decoded } from "./cassette.js"
import type { CallMode, LedgerClient, Refusal } from "./ledgerChannel.js"
import { meteredFrom, requestedModel } from "./prices.js"

/** The test a call belongs to: its key in the cassette and its name in the ledger. */
export interface TestName {
  readonly key: string
  readonly full: string
}

/** What the dispatcher needs from the recorder that owns it. */
export interface Hooks {
  readonly mode: "live" | "record" | "replay"
  readonly canon: Canon
  readonly ledger: LedgerClient
  readonly test: () => TestName
  /** The next position of a call within its test (shared with calls counted elsewhere). */
  readonly next: (test: TestName) => number
  /** The dispatcher that answers the call: an Agent (live), the test's recording agent, the playback agent. */
  readonly inner: (test: TestName) => Dispatcher
  /** Replay: the options the call is looked up under, or the error that fails it (no recording). */
  readonly lookup: (request: CanonicalRequest, test: TestName) => Dispatcher.DispatchOptions | Error
  /** The error for a call the ledger refused (it also fails the test). */
  readonly refused: (request: CanonicalRequest, test: TestName, refusal: Refusal) => Error
}

type AnyHandler = Record<string, ((...args: Array<any>) => unknown) | unknown>

const headerValue = (headers: unknown, name: string): string | undefined => {
  if (headers === null || headers === undefined) return undefined
  if (Array.isArray(headers)) {
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (String(headers[i]).toLowerCase() === name) return String(headers[i + 1])
    }
    return undefined
  }
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(", ") : String(v)
  }
  return undefined
}

/** The whole request body (fetch hands a stream of its bytes). */
const bodyBytes = async (body: unknown): Promise<Buffer> => {
  if (body === null || body === undefined) return Buffer.alloc(0)
  if (typeof body === "string") return Buffer.from(body)
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (body instanceof ArrayBuffer) return Buffer.from(body)
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") {
    const chunks: Array<Buffer> = []
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk))
    }
    return Buffer.concat(chunks)
  }
  return Buffer.from(await new Response(body as ConstructorParameters<typeof Response>[0]).arrayBuffer())
}

const fail = (handler: AnyHandler, error: Error): void => {
  if (typeof handler["onResponseError"] === "function") {
    ;(handler["onResponseError"] as (c: unknown, e: Error) => void)({ abort() {}, pause() {}, resume() {} }, error)
  } else if (typeof handler["onError"] === "function") (handler["onError"] as (e: Error) => void)(error)
}

const maxMetered = 4 * 1024 * 1024

/**
 * Watches a call's response through its handler, in whichever of undici's two handler styles it is
 * written, and calls `done` once with status, content type and body (for the usage).
 */
const tap = (
  handler: AnyHandler,
  done: (status: number | null, headers: Readonly<Record<string, string>>, body: Buffer) => void
): AnyHandler => {
  let status: number | null = null
  let headers: Record<string, string> = {}
  const chunks: Array<Buffer> = []
  let size = 0
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    done(status, headers, Buffer.concat(chunks))
  }
  const data = (chunk: Buffer) => {
    if (size + chunk.length <= maxMetered) chunks.push(Buffer.from(chunk))
    size += chunk.length
  }
  const observers: Record<string, (...args: Array<any>) => void> = {
    onHeaders: (code: number, raw: ReadonlyArray<Buffer | string>) => {
      status = code
      for (let i = 0; i + 1 < raw.length; i += 2) headers[String(raw[i]).toLowerCase()] = String(raw[i + 1])
    },
    onResponseStart: (_c: unknown, code: number, object: Record<string, string | Array<string>>) => {
      status = code
      headers = Object.fromEntries(Object.entries(object ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]))
    },
    onData: (chunk: Buffer) => data(chunk),
    onResponseData: (_c: unknown, chunk: Buffer) => data(chunk),
    onComplete: finish,
    onResponseEnd: finish,
    onError: finish,
    onResponseError: finish
  }
  return new Proxy(handler, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== "function") return value
      const observe = typeof property === "string" ? observers[property] : undefined
      return (...args: Array<unknown>) => {
        observe?.(...args)
        return (value as (...a: Array<unknown>) => unknown).apply(target, args)
      }
    }
  })
}

const shown = (request: CanonicalRequest): { readonly origin: string; readonly path: string } => {
  const url = request.url.split("?")[0]!
  const variable = /^(\{[A-Za-z0-9_]+\})(.*)$/.exec(url)
  if (variable !== null) return { origin: variable[1]!, path: variable[2] === "" ? "/" : variable[2]! }
  try {
    const parsed = new URL(url)
    return { origin: parsed.origin, path: parsed.pathname }
  } catch {
    return { origin: url, path: "" }
  }
}

/** The recording dispatcher's class, made on the undici module given (loaded when a call needs it). */
const classOf = (undici: typeof import("undici")) =>
  class RecordingDispatcher extends undici.Dispatcher {
    readonly #hooks: Hooks

    constructor(hooks: Hooks) {
      super()
      this.#hooks = hooks
    }

    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const test = this.#hooks.test()
      const seq = this.#hooks.next(test)
      this.#send(options, handler as unknown as AnyHandler, test, seq).catch((error: unknown) =>
        fail(handler as unknown as AnyHandler, error instanceof Error ? error : new Error(String(error)))
      )
      return true
    }

    async #send(options: Dispatcher.DispatchOptions, handler: AnyHandler, test: TestName, seq: number): Promise<void> {
      const hooks = this.#hooks
      const body = await bodyBytes(options.body)
      const text = body.toString("utf8")
      const url = new URL(options.path, options.origin).href
      const request = canonical(hooks.canon, {
        method: options.method,
        url,
        contentType: headerValue(options.headers, "content-type"),
        body: text
      })
      const where = shown(request)
      const model = requestedModel(text)
      const started = performance.now()
      const settle = (id: string | undefined, mode: CallMode) =>
        tap(handler, (status, headers, responseBody) => {
          const metered = meteredFrom(headers["content-type"], decoded(headers["content-encoding"], responseBody).body.toString("utf8"))
          hooks.ledger.settle(id, {
            test: test.full,
            method: request.method,
            ...where,
            mode,
            seq,
            status,
            durationMs: Math.round(performance.now() - started),
            model: metered.model ?? model,
            inputTokens: metered.usage?.inputTokens,
            outputTokens: metered.usage?.outputTokens
          })
        })
      if (hooks.mode === "replay") {
        const found = hooks.lookup(request, test)
        if (found instanceof Error) return fail(handler, found)
        hooks.inner(test).dispatch(found, settle(undefined, "replayed") as unknown as Dispatcher.DispatchHandler)
        return
      }
      const reservation = await hooks.ledger.reserve({ test: test.full, method: request.method, ...where, model })
      if ("reason" in reservation) return fail(handler, hooks.refused(request, test, reservation))
      hooks.inner(test).dispatch(
        { ...options, body },
        settle(reservation.id, hooks.mode === "record" ? "recorded" : "live") as unknown as Dispatcher.DispatchHandler
      )
    }

    override async close(): Promise<void> {}

    override async destroy(): Promise<void> {}
  }

/** The global dispatcher of a live worker. */
export type RecordingDispatcher = InstanceType<ReturnType<typeof classOf>>

const classes = new WeakMap<object, ReturnType<typeof classOf>>()

/** A recording dispatcher, of a class extending the given undici module's `Dispatcher`. */
export const make = (undici: typeof import("undici"), hooks: Hooks): RecordingDispatcher => {
  if (!classes.has(undici)) classes.set(undici, classOf(undici))
  return new (classes.get(undici)!)(hooks)
}
