/**
 * Replay's guarantee that nothing goes out: every TCP connection a worker opens (node:http, https, a
 * raw socket, a client library's own pool) passes `net.Socket.prototype.connect`, and in replay only
 * the allowed ones (the workflow database) get through; the rest fail with the given error before
 * any byte is sent. Node 20 has no network permission to do this with, and its diagnostics channels
 * can only watch a connection, not stop it (a socket destroyed from `net.client.socket` reconnects).
 */
import * as net from "node:net"

/** Where a blocked connection was going. */
export interface Destination {
  readonly host: string
  readonly port: number
}

type Connect = typeof net.Socket.prototype.connect

// net.connect passes its normalized arguments as an array; Socket#connect also takes (options), (port, host), (path)
const destinationOf = (args: ReadonlyArray<unknown>): Destination | "local" => {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0]
  if (typeof first === "object" && first !== null) {
    const o = first as { path?: unknown; port?: unknown; host?: unknown }
    if (typeof o.path === "string") return "local"
    return { host: typeof o.host === "string" ? o.host : "localhost", port: Number(o.port) }
  }
  if (typeof first === "string" && !/^\d+$/.test(first)) return "local"
  return { host: typeof args[1] === "string" ? args[1] : "localhost", port: Number(first) }
}

/**
 * Lets through only Unix-socket connections and those `allowed` accepts; the others are destroyed with
 * `refuse(destination)`'s error. Returns the function that restores the original `connect`.
 */
export const install = (
  allowed: (destination: Destination) => boolean,
  refuse: (destination: Destination) => Error
): () => void => {
  const original: Connect = net.Socket.prototype.connect
  const guarded = function(this: net.Socket, ...args: Array<unknown>) {
    const destination = destinationOf(args)
    if (destination === "local" || allowed(destination)) return (original as (...a: Array<unknown>) => net.Socket).apply(this, args)
    const error = refuse(destination)
    // asynchronously, like a refused connection: callers attach their error handlers after connect()
    process.nextTick(() => this.destroy(error))
    return this
  }
  net.Socket.prototype.connect = guarded as Connect
  return () => {
    if (net.Socket.prototype.connect === (guarded as Connect)) net.Socket.prototype.connect = original
  }
}
