/**
 * Calls made through `node:http`/`node:https` instead of fetch: they bypass undici, so the recorder
 * cannot record, replay or hold them back, but the ledger still counts them, from Node's own
 * diagnostics channels (start, then the response's head or the error).
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel"
import { performance } from "node:perf_hooks"

/** A finished node:http call. */
export interface NodeHttpCall {
  readonly method: string
  readonly url: string
  /** `null`: the request failed before a response (refused, reset, DNS). */
  readonly status: number | null
  readonly durationMs: number
}

interface ClientRequest {
  readonly method?: string
  readonly protocol?: string
  readonly host?: string
  readonly path?: string
  getHeader?(name: string): unknown
}

const urlOf = (request: ClientRequest): string =>
  `${request.protocol ?? "http:"}//${String(request.getHeader?.("host") ?? request.host ?? "unknown")}${request.path ?? "/"}`

/** Reports every node:http call of this thread until the returned function is called. */
export const watch = (onCall: (call: NodeHttpCall) => void): () => void => {
  const started = new WeakMap<object, number>()
  const finish = (request: ClientRequest, status: number | null) => {
    const start = started.get(request)
    if (start === undefined) return
    started.delete(request)
    onCall({ method: request.method ?? "GET", url: urlOf(request), status, durationMs: Math.round(performance.now() - start) })
  }
  const channels: Record<string, (message: unknown) => void> = {
    "http.client.request.start": (m) => void started.set((m as { request: object }).request, performance.now()),
    "http.client.response.finish": (m) => {
      const { request, response } = m as { request: ClientRequest; response: { statusCode?: number } }
      finish(request, response.statusCode ?? null)
    },
    "http.client.request.error": (m) => finish((m as { request: ClientRequest }).request, null)
  }
  for (const [name, listener] of Object.entries(channels)) subscribe(name, listener)
  return () => {
    for (const [name, listener] of Object.entries(channels)) unsubscribe(name, listener)
  }
}
