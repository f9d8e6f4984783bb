/**
 * Setup file of the `workflow-live` project: counts the HTTP requests each live test sends, by origin,
 * through Node's diagnostics channels (node:http and undici/fetch alike), so the lane's report can say
 * what a run cost in external calls without any cooperation from the code under test.
 */
import { subscribe } from "node:diagnostics_channel"
import { afterEach, beforeEach } from "vitest"
import * as RunningChannel from "../internal/runningChannel.js"

// the running test's counts, by origin: the object in its task meta itself, so what it holds reaches the
// lane even when a later hook fails the test (the HTTP recorder's, on a refused call) before ours runs
let counts: Record<string, number> = {}

const count = (origin: string): void => {
  counts[origin] = (counts[origin] ?? 0) + 1
}

subscribe("http.client.request.start", (message) => {
  const request = (message as { request?: { host?: string; protocol?: string; getHeader?: (n: string) => unknown } })
    .request
  const host = String(request?.getHeader?.("host") ?? request?.host ?? "unknown")
  count(`${request?.protocol ?? "http:"}//${host}`)
})

subscribe("undici:request:create", (message) => {
  const request = (message as { request?: { origin?: string | URL } }).request
  count(String(request?.origin ?? "unknown"))
})

const announce = RunningChannel.announcer()

interface Named {
  readonly name: string
  readonly suite?: Named | undefined
  readonly filepath?: string | undefined
  readonly file?: { readonly filepath: string } | undefined
}

// as Vitest's TestCase.fullName: the names of the enclosing suites and the test, the file left out
const fullNameOf = (task: Named): string => {
  const names = [task.name]
  for (let suite = task.suite; suite !== undefined && suite.filepath === undefined; suite = suite.suite) {
    names.unshift(suite.name)
  }
  return names.join(" > ")
}

const announcement = (event: "started" | "ended", task: Named): RunningChannel.Announcement => ({
  event,
  file: task.file?.filepath ?? "",
  fullName: fullNameOf(task)
})

beforeEach((context) => {
  counts = {}
  // task meta travels to the main process, where the lane's reporter adds it up
  ;(context.task.meta as Record<string, unknown>)["externalCalls"] = counts
  // the lane learns at once which test runs, for a signal that comes before Vitest's throttled update
  announce(announcement("started", context.task))
})

afterEach((context) => {
  announce(announcement("ended", context.task))
})
