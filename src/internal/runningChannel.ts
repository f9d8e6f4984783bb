/**
 * Which live tests are running, announced by the workers at once. Vitest's own task updates reach the
 * lane's reporter through a throttled channel (up to 100 ms late, far more on a loaded machine), so a
 * signal that arrives just after a test began could find the lane believing no test was running. The
 * workers are threads of the lane's process: a `BroadcastChannel` message is posted synchronously when a
 * test begins and ends.
 */
import { BroadcastChannel } from "node:worker_threads"

const name = "workflow-live:running"

/** A test began (`started`) or ended; `file` is absolute, `fullName` is Vitest's `TestCase.fullName`. */
export interface Announcement {
  readonly event: "started" | "ended"
  readonly file: string
  readonly fullName: string
}

/** The worker's side: a channel that never keeps the worker alive. */
export const announcer = (): (announcement: Announcement) => void => {
  const channel = new BroadcastChannel(name)
  channel.unref()
  return (announcement) => channel.postMessage(announcement)
}

/** The lane's side: calls `on` for every announcement until the returned function closes the channel. */
export const listen = (on: (announcement: Announcement) => void): () => void => {
  const channel = new BroadcastChannel(name)
  channel.unref()
  channel.onmessage = (event) => on((event as { readonly data: Announcement }).data)
  return () => channel.close()
}
