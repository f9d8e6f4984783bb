/**
 * Cassettes on disk and in undici: reading and writing the files, the per-test `SnapshotAgent` that
 * records a test's calls, and the playback `SnapshotAgent` that answers a test file's calls in replay.
 * undici does the recording, the matching (its request hash) and the playback (sequential responses
 * for a repeated request); this module turns its snapshots into the canonical, secret-free cassette
 * format and back.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { SnapshotAgent } from "undici"
import {
  type Canon,
  canonical,
  type Cassette,
  type Interaction,
  matchOptions,
  problemOf,
  requestOf,
  responseBody,
  storedRequest,
  storedResponse,
  testHeader
} from "./cassette.js"
import type { Candidate } from "./nearestRequest.js"

/** A cassette file's content, or why it cannot be used. */
export type ReadResult = { readonly cassette: Cassette } | { readonly problem: string }

/** Reads a cassette; a missing file is an empty cassette. */
export const read = (path: string, testFile: string): ReadResult => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT"
      ? { cassette: { version: 1, file: testFile, tests: {} } }
      : { problem: (error as Error).message }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return { problem: `not valid JSON (${(error as Error).message})` }
  }
  const problem = problemOf(parsed)
  return problem === undefined ? { cassette: parsed as Cassette } : { problem }
}

/** Writes a cassette atomically (a reader never sees half a file); tests in sorted order, for clean diffs. */
export const write = (path: string, cassette: Cassette): void => {
  const tests = Object.fromEntries(Object.entries(cassette.tests).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  mkdirSync(dirname(path), { recursive: true })
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`
  writeFileSync(temporary, `${JSON.stringify({ ...cassette, tests }, null, 2)}\n`)
  renameSync(temporary, path)
}

/** Removes a cassette (a file whose tests no longer call anything). */
export const remove = (path: string): void => rmSync(path, { force: true })

// SnapshotAgent warns once per thread that it is experimental; the lane's output is no place for it
// (its status is documented instead). Only that one warning is held back.
const quietly = <A>(make: () => A): A => {
  const emit = process.emitWarning
  process.emitWarning = ((warning: string | Error, ...rest: Array<unknown>) => {
    if (String(warning).includes("SnapshotAgent is experimental")) return
    return (emit as (...a: Array<unknown>) => void).call(process, warning, ...rest)
  }) as typeof process.emitWarning
  try {
    return make()
  } finally {
    process.emitWarning = emit
  }
}

/** Requests match on these headers only (the test key is ours, never sent): no trace ids, no credentials. */
const matchHeaders = ["content-type", testHeader]

/** An agent that sends a test's calls live and keeps every request and response. */
export const recordingAgent = (): SnapshotAgent =>
  quietly(() => new SnapshotAgent({ mode: "record", matchHeaders: ["content-type"] }))

/** A test's recorded calls, in canonical, secret-free form. */
export const interactionsOf = (canon: Canon, agent: SnapshotAgent): ReadonlyArray<Interaction> =>
  agent.getRecorder().getSnapshots().map((snapshot) => ({
    request: storedRequest(canonical(canon, {
      method: snapshot.request.method,
      url: snapshot.request.url,
      contentType: snapshot.request.headers["content-type"],
      body: snapshot.request.body ?? ""
    })),
    responses: snapshot.responses.map((response) =>
      storedResponse(canon, {
        status: response.statusCode,
        headers: response.headers,
        body: Buffer.from(response.body, "base64")
      })
    )
  }))

/** A test file's playback: the agent, whether a request has a recording, and every recorded request. */
export interface Playback {
  readonly agent: SnapshotAgent
  readonly has: (options: ReturnType<typeof matchOptions>) => boolean
  readonly candidates: ReadonlyArray<Candidate>
  readonly close: () => Promise<void>
}

/**
 * Loads a cassette into a playback `SnapshotAgent`. undici keys snapshots by its own hash of the
 * request, so each interaction is first recorded into a scratch agent (public `record()`, which
 * computes the hash) and saved in undici's file format; the playback agent then loads that file the
 * way it always does. The file stays until the agent closes: the agent may reload it.
 */
export const playback = async (cassette: Cassette): Promise<Playback> => {
  const dir = mkdtempSync(join(tmpdir(), "workflow-live-replay-"))
  const file = join(dir, "snapshots.json")
  const scratch = quietly(() => new SnapshotAgent({ mode: "record", matchHeaders }))
  const candidates: Array<Candidate> = []
  for (const [test, interactions] of Object.entries(cassette.tests)) {
    for (const interaction of interactions) {
      const request = requestOf(interaction.request)
      candidates.push({ test, request })
      for (const response of interaction.responses) {
        await scratch.getRecorder().record(matchOptions(request, test), {
          statusCode: response.status,
          headers: response.headers,
          body: responseBody(response),
          trailers: {}
        })
      }
    }
  }
  await scratch.saveSnapshots(file)
  await scratch.close()
  const agent = quietly(() => new SnapshotAgent({ mode: "playback", snapshotPath: file, matchHeaders }))
  await agent.loadSnapshots()
  return {
    agent,
    has: (options) => agent.getSnapshotInfo(options) !== null,
    candidates,
    close: async () => {
      await agent.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
