/**
 * The wire between the run's one ledger (in the lane's main thread) and the Vitest workers (threads of
 * the same process) that make the external calls: a `BroadcastChannel`, so no socket, no port and no
 * file is involved, and every worker asks the same ledger before a call is sent. Messages are plain
 * data; the ledger answers a `reserve` with `reserved` or `refused`, a `flush` with `flushed`.
 */
import { randomUUID } from "node:crypto"
import { BroadcastChannel } from "node:worker_threads"

/** How a call was answered: by the API (`live`, `recorded` also wrote it to a cassette) or from a cassette. */
export type CallMode = "live" | "recorded" | "replayed"

/** A call about to be sent, as the ledger sees it before deciding. */
export interface CallRequest {
  /** `<file> > <describe> > <test>`, or `<file> > (outside a test)`. */
  readonly test: string
  readonly method: string
  /** The origin as shown (a base URL variable in braces, or scheme://host:port); never a secret. */
  readonly origin: string
  /** The path, without the query string. */
  readonly path: string
  /** The model a JSON request body asks for. */
  readonly model: string | undefined
}

/** A finished call, reported by the worker that made it. */
export interface CallRecord extends Omit<CallRequest, "model"> {
  readonly mode: CallMode
  /** The call's position within its test (1, 2, ...), for a stable order across runs. */
  readonly seq: number
  /** `null`: no response (network error, refused by the ledger). */
  readonly status: number | null
  readonly durationMs: number
  /** The model the response names (else the one the request asked for). */
  readonly model: string | undefined
  readonly inputTokens: number | undefined
  readonly outputTokens: number | undefined
}

/** Why the ledger refused to let a call be sent. */
export type RefusalReason = "max-calls" | "max-cost" | "price-unknown"

/** The ledger's refusal: what the limit is and what was spent when the call was refused. */
export interface Refusal {
  readonly reason: RefusalReason
  /** The setting that holds the limit, e.g. `WORKFLOW_LIVE_MAX_CALLS`. */
  readonly setting: string
  /** The limit as set. */
  readonly limit: string
  readonly spentCalls: number
  readonly spentUsd: number
  /** For `price-unknown`: the model without a price. */
  readonly model: string | undefined
}

/** A test failed because of its external calls (no recording, a connection that escaped the recorder). */
export interface Problem {
  readonly test: string
  readonly reason: string
  readonly message: string
}

/** Worker to ledger. */
export type ToLedger =
  | { readonly kind: "reserve"; readonly id: string; readonly call: CallRequest }
  | { readonly kind: "settle"; readonly id: string | undefined; readonly call: CallRecord }
  | { readonly kind: "problem"; readonly problem: Problem }
  | { readonly kind: "flush"; readonly id: string }

/** Ledger to worker. */
export type FromLedger =
  | { readonly kind: "reserved"; readonly id: string }
  | { readonly kind: "refused"; readonly id: string; readonly refusal: Refusal }
  | { readonly kind: "flushed"; readonly id: string }

const toLedgerKinds = new Set(["reserve", "settle", "problem", "flush"])

/** Whether a message on the channel is for the ledger (workers see each other's messages too). */
export const isToLedger = (data: unknown): data is ToLedger =>
  typeof data === "object" && data !== null && toLedgerKinds.has((data as { kind?: string }).kind ?? "")

/** The ledger did not answer in time: most likely the worker is not a thread of the lane's process. */
export class LedgerTimeout extends Error {
  constructor(readonly channel: string, readonly ms: number) {
    super(`the run's ledger (${channel}) did not answer within ${ms} ms`)
  }
}

/** A worker's handle on the run's ledger. */
export interface LedgerClient {
  /** Asks before sending; resolves with the reservation id, or the refusal. */
  readonly reserve: (call: CallRequest) => Promise<{ readonly id: string } | Refusal>
  readonly settle: (id: string | undefined, call: CallRecord) => void
  readonly problem: (problem: Problem) => void
  /** Resolves once the ledger has handled every message this worker sent before. */
  readonly flush: () => Promise<void>
  readonly close: () => void
}

/** Opens the worker's end of the channel `name`. */
export const connect = (name: string, timeoutMs = 10_000): LedgerClient => {
  const channel = new BroadcastChannel(name)
  // every client on the channel sees every answer: ids are unique across threads and clients
  const client = randomUUID()
  let next = 0
  const waiting = new Map<string, (message: FromLedger) => void>()
  channel.onmessage = (event) => {
    const message = (event as { readonly data: FromLedger }).data
    waiting.get(message.id)?.(message)
  }
  // an idle channel must not keep a finished worker alive
  channel.unref()
  const post = (message: ToLedger): void => channel.postMessage(message)
  const ask = (make: (id: string) => ToLedger): Promise<FromLedger> => {
    const id = `${client}:${++next}`
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id)
        reject(new LedgerTimeout(name, timeoutMs))
      }, timeoutMs)
      waiting.set(id, (message) => {
        clearTimeout(timer)
        waiting.delete(id)
        resolve(message)
      })
      post(make(id))
    })
  }
  return {
    reserve: (call) =>
      ask((id) => ({ kind: "reserve", id, call })).then((answer) =>
        answer.kind === "refused" ? answer.refusal : { id: answer.id }
      ),
    settle: (id, call) => post({ kind: "settle", id, call }),
    problem: (problem) => post({ kind: "problem", problem }),
    flush: () => ask((id) => ({ kind: "flush", id })).then(() => undefined),
    close: () => channel.close()
  }
}

/** Opens the ledger's end of a channel; `answer` replies to one worker's request. */
export const listen = (
  name: string,
  onMessage: (message: ToLedger, answer: (reply: FromLedger) => void) => void
): { readonly close: () => void } => {
  const channel = new BroadcastChannel(name)
  channel.onmessage = (event) => {
    const data = (event as { readonly data: unknown }).data
    if (isToLedger(data)) onMessage(data, (reply) => channel.postMessage(reply))
  }
  // the lane ends when its tests end, not when the ledger stops listening
  channel.unref()
  return { close: () => channel.close() }
}
