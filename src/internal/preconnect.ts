/**
 * A TCP connection opened ahead of time: PostgreSQL forks the backend as soon as it accepts the
 * connection, but only resolves the database when the startup packet (which names it) arrives. Opening the
 * socket before a step and letting the driver speak on it after moves the fork off the critical path,
 * while the database is still looked up afterwards (after a swap: the swapped-in one).
 */
import { Effect, type Scope } from "effect"
import net from "node:net"

/** A socket factory for the driver: the opened socket first, fresh ones after (a pool may reconnect). */
export type StreamFactory = () => net.Socket

/**
 * Opens the socket now; the returned factory hands it to the driver, whose `connect()` then only waits for
 * (or replays) the connection. Unused, it is destroyed with the scope. Unix-socket hosts get no head start.
 */
export const preconnect = (host: string, port: number): Effect.Effect<StreamFactory | undefined, never, Scope.Scope> =>
  host.startsWith("/")
    ? Effect.succeed(undefined)
    : Effect.acquireRelease(Effect.sync(() => open(host, port)), (ahead) => Effect.sync(() => ahead.release())).pipe(
      Effect.map((ahead) => ahead.factory)
    )

const open = (host: string, port: number) => {
  const socket = new net.Socket()
  let state: "pending" | "connected" | Error = "pending"
  let handed = false
  // until the driver listens, an early failure is kept, to be replayed to it
  const onError = (error: Error) => (state = error)
  socket.once("error", onError)
  socket.once("connect", () => state === "pending" && (state = "connected"))
  socket.connect(port, host)
  socket.connect = ((..._args: Array<unknown>) => {
    socket.off("error", onError)
    if (state === "connected") process.nextTick(() => socket.emit("connect"))
    else if (state instanceof Error) process.nextTick((error: Error) => socket.emit("error", error), state)
    return socket
  }) as typeof socket.connect
  return {
    factory: (): net.Socket => {
      if (handed) return new net.Socket()
      handed = true
      return socket
    },
    release: () => {
      if (!handed) socket.destroy()
    }
  }
}
