// The recorder and the ledger in one thread, against a real local HTTP server (no lane, no database):
// gzip'd and streamed responses, repeated requests, secrets in headers, query and body, replay that
// never reaches the server, a connection around fetch refused, and a budget refusing a call.
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer, get, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { gzipSync } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as CostLedger from "../../src/CostLedger.js"
import * as HttpRecorder from "../../src/HttpRecorder.js"

const secret = "sk-it-0123456789"
const dir = mkdtempSync(join(tmpdir(), "wl-recorder-"))
const testFile = resolve("test/workflow_live/example.test.ts")
let server: Server
let hits = 0
let base = ""

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++
    let body = ""
    req.on("data", (c: Buffer) => (body += c.toString()))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x")
      if (url.pathname === "/v1/count") {
        res.writeHead(200, { "content-type": "application/json" })
        return res.end(JSON.stringify({ n: hits }))
      }
      if (url.pathname === "/v1/stream") {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${JSON.stringify({ model: "gpt-4o-mini", choices: [{ delta: { content: "hi" } }] })}\n\n`)
        return res.end(`data: ${JSON.stringify({ model: "gpt-4o-mini", usage: { prompt_tokens: 5, completion_tokens: 1 } })}\n\ndata: [DONE]\n\n`)
      }
      const echo = { auth: req.headers.authorization, key: url.searchParams.get("api_key"), body: JSON.parse(body || "{}") }
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" })
      res.end(gzipSync(JSON.stringify({ model: "gpt-4o-mini", echo, usage: { prompt_tokens: 100, completion_tokens: 10 } })))
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  process.env.WL_IT_BASE_URL = base
  process.env.WL_IT_KEY = secret
})

afterAll(async () => {
  await new Promise((r) => server.close(r))
  delete process.env.WL_IT_BASE_URL
  delete process.env.WL_IT_KEY
  rmSync(dir, { recursive: true, force: true })
})

/** Runs `use` with a ledger and the file's recorder installed in this thread, then closes both. */
const withRecorder = async <A>(
  mode: HttpRecorder.Mode,
  settings: Partial<CostLedger.Settings>,
  use: (recorder: HttpRecorder.Recorder, ledger: CostLedger.CostLedger) => Promise<A>
): Promise<A> => {
  const scope = Effect.runSync(Scope.make())
  const ledger = Effect.runSync(Scope.extend(CostLedger.make({
    maxCalls: undefined,
    maxCostUsd: undefined,
    prices: CostLedger.defaultPrices,
    pricesSet: [],
    ...settings
  }), scope))
  const prepared = HttpRecorder.prepare({ mode, cassettes: dir }, {
    apis: { baseVariables: ["WL_IT_BASE_URL"], secretVariables: ["WL_IT_KEY"] },
    ledger,
    allow: []
  })
  const recorder = await HttpRecorder.install(prepared.provided, testFile)
  try {
    return await use(recorder, ledger)
  } finally {
    await recorder.close()
    Effect.runSync(Scope.close(scope, Exit.void))
  }
}

const chat = (content: string) =>
  fetch(`${base}/chat?api_key=${secret}`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }], key_hint: secret })
  }).then((r) => r.json() as Promise<{ echo: { body: { messages: Array<{ content: string }> } } }>)

const count = () => fetch(`${base}/count`).then((r) => r.json() as Promise<{ n: number }>)

describe("HttpRecorder", () => {
  let recorded: { chat: unknown; counts: Array<unknown> }

  it("records each test's calls, decompressed, with every secret replaced, and meters their usage", async () => {
    await withRecorder("record", {}, async (recorder, ledger) => {
      recorder.beginTest("suite > first")
      recorded = { chat: await chat("Title: A"), counts: [await count(), await count()] }
      const stream = await fetch(`${base}/stream`).then((r) => r.text())
      expect(stream).toContain("[DONE]")
      expect(await recorder.endTest()).toEqual([])
      await new Promise((r) => setTimeout(r, 50))
      const summary = ledger.summary()
      expect(summary.calls.map((c) => [c.mode, c.method, c.origin, c.path, c.inputTokens])).toEqual([
        ["recorded", "POST", "{WL_IT_BASE_URL}", "/chat", 100],
        ["recorded", "GET", "{WL_IT_BASE_URL}", "/count", null],
        ["recorded", "GET", "{WL_IT_BASE_URL}", "/count", null],
        ["recorded", "GET", "{WL_IT_BASE_URL}", "/stream", 5]
      ])
      expect(summary.calls[0]!.test).toBe("test/workflow_live/example.test.ts > suite > first")
    })
    const text = readFileSync(join(dir, "test__workflow_live__example.test.ts.json"), "utf8")
    expect(text).not.toContain(secret)
    const cassette = JSON.parse(text)
    const [interactions] = Object.values(cassette.tests) as Array<Array<any>>
    const post = interactions!.find((i) => i.request.method === "POST")
    expect(post.request.url).toBe("{WL_IT_BASE_URL}/chat?api_key={redacted}")
    expect(post.request.json.key_hint).toBe("{WL_IT_KEY}")
    expect(post.responses[0].headers["content-encoding"]).toBeUndefined()
    // an answer's field named like a credential is not kept at all (the key in it would have been replaced)
    expect(post.responses[0].json.echo.auth).toBe("{redacted}")
    expect(interactions!.find((i) => i.request.url.endsWith("/count")).responses).toHaveLength(2)
  })

  it("replays them in order without reaching the server; a changed request fails its test, naming what changed", async () => {
    const before = hits
    await withRecorder("replay", {}, async (recorder, ledger) => {
      recorder.beginTest("suite > first")
      expect(await count()).toEqual(recorded.counts[0])
      expect(await count()).toEqual(recorded.counts[1])
      expect((await chat("Title: A")).echo.body.messages[0]!.content).toBe("Title: A")
      await expect(chat("Title: B")).rejects.toThrow("fetch failed")
      const errors = await recorder.endTest()
      expect(errors).toHaveLength(1)
      expect(errors[0]).toBeInstanceOf(HttpRecorder.HttpRecorderError)
      expect(errors[0]!.message).toContain("Replay has no recording for POST {WL_IT_BASE_URL}/chat?api_key={redacted}")
      expect(errors[0]!.message).toContain(`body $.messages[0].content: recorded "Title: A", sent "Title: B"`)
      expect(errors[0]!.message).not.toContain(secret)
      await new Promise((r) => setTimeout(r, 50))
      expect(ledger.summary().total).toMatchObject({ calls: 3, replayed: 3, costUsd: 0 })
      expect(ledger.summary().problems).toEqual([expect.objectContaining({ reason: "no-recording" })])
    })
    expect(hits).toBe(before)
  })

  it("in replay, refuses a connection around fetch before anything is sent", async () => {
    const before = hits
    await withRecorder("replay", {}, async (recorder) => {
      recorder.beginTest("suite > escape")
      const failure = await new Promise<Error>((resolve) => get(`${base}/count`, () => resolve(new Error("answered"))).on("error", resolve))
      expect(failure.message).toContain(`Replay refused a connection to 127.0.0.1:${new URL(base).port}`)
      const errors = await recorder.endTest()
      expect(errors.map((e) => (e as HttpRecorder.HttpRecorderError).reason)).toEqual(["escaped"])
    })
    expect(hits).toBe(before)
  })

  it("live: a budget of 1 call refuses the second with BudgetExceeded, and the server sees one", async () => {
    const before = hits
    await withRecorder("live", { maxCalls: 1 }, async (recorder, ledger) => {
      recorder.beginTest("suite > budget")
      await count()
      const refused = await fetch(`${base}/count`).catch((e: Error) => e.cause)
      expect(refused).toBeInstanceOf(CostLedger.BudgetExceeded)
      expect((refused as CostLedger.BudgetExceeded).message).toContain("GET {WL_IT_BASE_URL}/count")
      expect((await recorder.endTest()).map((e) => e.constructor)).toEqual([CostLedger.BudgetExceeded])
      expect(ledger.summary().budget.exceeded).toMatchObject({ reason: "max-calls", test: "test/workflow_live/example.test.ts > suite > budget" })
    })
    expect(hits).toBe(before + 1)
  })

  it("live: until the file first uses it the global dispatcher only stands in; undici's own API and fetch go through it, keyed to their tests", async () => {
    const slot = Symbol.for("undici.globalDispatcher.1")
    const global = () => (globalThis as Record<symbol, unknown>)[slot]
    const { Dispatcher, getGlobalDispatcher } = await import("undici")
    const previous = global()
    await withRecorder("live", {}, async (recorder, ledger) => {
      const standIn = global()
      expect(standIn).not.toBe(previous)
      expect(standIn).not.toBeInstanceOf(Dispatcher)
      recorder.beginTest("suite > lazy one")
      // the first use is a method fetch never calls (as @effect/platform-node's undici client does)
      const origin = new URL(base).origin
      const answer = await getGlobalDispatcher().request({ origin, path: "/v1/count", method: "GET" })
      expect(answer.statusCode).toBe(200)
      expect(((await answer.body.json()) as { n: number }).n).toBeGreaterThan(0)
      expect(await recorder.endTest()).toEqual([])
      recorder.beginTest("suite > lazy two")
      await Promise.all([count(), chat("Title: B")])
      expect(await recorder.endTest()).toEqual([])
      expect(global()).toBe(standIn)
      await new Promise((r) => setTimeout(r, 50))
      const calls = ledger.summary().calls.map((c) => [c.mode, c.test.split(" > ").slice(1).join(" > "), c.path, c.status, c.inputTokens])
      expect(calls).toEqual(expect.arrayContaining([
        ["live", "suite > lazy one", "/count", 200, null],
        ["live", "suite > lazy two", "/count", 200, null],
        ["live", "suite > lazy two", "/chat", 200, 100]
      ]))
      expect(calls.length).toBe(3)
    })
    expect(global()).toBe(previous)
  })

  it("record: a credential-named variable no spec lists (a new API's key) is replaced too, in the URL, headers and responses", async () => {
    const acme = "acme-4711-TOPSECRET"
    process.env.WL_IT_ACME_API_KEY = acme
    try {
      await withRecorder("record", {}, async (recorder) => {
        recorder.beginTest("suite > acme")
        const answer = await fetch(`${base}/acme?appid=${acme}`, {
          method: "POST",
          headers: { "x-acme": acme, "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt-4o-mini", account: acme })
        }).then((r) => r.text())
        // the server saw and echoed the real key
        expect(answer).toContain(acme)
        expect(await recorder.endTest()).toEqual([])
      })
      const text = readFileSync(join(dir, "test__workflow_live__example.test.ts.json"), "utf8")
      expect(text).not.toContain(acme)
      const [interactions] = Object.values(JSON.parse(text).tests) as Array<Array<any>>
      const post = interactions!.find((i) => i.request.url.includes("/acme"))
      expect(post.request.url).toBe("{WL_IT_BASE_URL}/acme?appid={WL_IT_ACME_API_KEY}")
      expect(post.request.json.account).toBe("{WL_IT_ACME_API_KEY}")
    } finally {
      delete process.env.WL_IT_ACME_API_KEY
    }
  })
})
