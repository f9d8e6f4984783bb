/**
 * A tiny controllable HTTP server on 127.0.0.1 (port 0), standing in for the LLM and tender APIs in
 * tests and benchmarks: it answers every request with a given status after a given delay, and can
 * insist on an auth header. `freePort` gives a port with nothing listening on it.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import type { Scope } from "effect"

/** How the stand-in answers. */
export interface StubOptions {
  /** Default 200. */
  readonly status?: number | undefined
  /** Milliseconds before the answer (headers included). Default 0. */
  readonly delayMs?: number | undefined
  /** When set, requests without exactly this header get 401. */
  readonly requireHeader?: { readonly name: string; readonly value: string } | undefined
  /** Default `{"ok":true}`. */
  readonly body?: string | undefined
}

/** A request the stand-in received. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
}

/** A running stand-in. */
export interface StubServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  readonly received: ReadonlyArray<Received>
  readonly close: () => Promise<void>
}

/** Starts a stand-in; close it when done (or use {@link scoped}). */
export const start = (options: StubOptions = {}): Promise<StubServer> =>
  new Promise((resolve, reject) => {
    const received: Array<Received> = []
    const timers = new Set<NodeJS.Timeout>()
    const server: Server = createServer((request, response) => {
      received.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers })
      const answer = (): void => {
        const required = options.requireHeader
        const authorised = required === undefined ||
          request.headers[required.name.toLowerCase()] === required.value
        response.writeHead(authorised ? options.status ?? 200 : 401, { "content-type": "application/json" })
        response.end(authorised ? options.body ?? "{\"ok\":true}" : "{\"error\":\"unauthorized\"}")
      }
      if ((options.delayMs ?? 0) > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer)
          answer()
        }, options.delayMs)
        timers.add(timer)
      } else {
        answer()
      }
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        received,
        close: () =>
          new Promise<void>((done) => {
            for (const timer of timers) clearTimeout(timer)
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** A stand-in that lives as long as the scope. */
export const scoped = (options: StubOptions = {}): Effect.Effect<StubServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (server) => Effect.promise(() => server.close()))

/** A port on 127.0.0.1 with nothing listening: bound once by the OS, then released. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })
