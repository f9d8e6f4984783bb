// The ledger without I/O: prices, usage, settings, and the budget decided by one ledger for several
// clients (in the lane they are worker threads; here they are channel ends in this thread, which a
// BroadcastChannel treats the same way).
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Scope } from "effect"
import { readFileSync } from "node:fs"
import * as CostLedger from "../../src/CostLedger.js"
import * as Channel from "../../src/internal/ledgerChannel.js"
import { meteredFrom, priceFor, requestedModel } from "../../src/internal/prices.js"

const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const settings = (env: Record<string, string>) => Effect.runSync(Effect.either(CostLedger.settings.pipe(withEnv(env))))

const call = (test: string, over: Partial<Channel.CallRequest> = {}): Channel.CallRequest => ({
  test,
  method: "POST",
  origin: "{TENDERBOT_LLM_BASE_URL}",
  path: "/chat/completions",
  model: "gpt-4o-mini",
  ...over
})

const record = (request: Channel.CallRequest, seq: number, tokens?: readonly [number, number]): Channel.CallRecord => ({
  test: request.test,
  method: request.method,
  origin: request.origin,
  path: request.path,
  mode: "live",
  seq,
  status: 200,
  durationMs: 5,
  model: request.model,
  inputTokens: tokens?.[0],
  outputTokens: tokens?.[1]
})

/** A ledger with two clients (two "workers"); closed after `use`. */
const withLedger = async <A>(
  s: CostLedger.Settings,
  use: (ledger: CostLedger.CostLedger, a: Channel.LedgerClient, b: Channel.LedgerClient) => Promise<A>
): Promise<A> => {
  const scope = Effect.runSync(Scope.make())
  const ledger = Effect.runSync(Scope.extend(CostLedger.make(s), scope))
  const [a, b] = [Channel.connect(ledger.channel, 2000), Channel.connect(ledger.channel, 2000)]
  try {
    return await use(ledger, a, b)
  } finally {
    a.close()
    b.close()
    Effect.runSync(Scope.close(scope, Exit.void))
  }
}

const base: CostLedger.Settings = { maxCalls: undefined, maxCostUsd: undefined, prices: CostLedger.defaultPrices, pricesSet: [] }

describe("prices", () => {
  it("finds a model by its exact name or without a dated snapshot suffix, never by a guess", () => {
    expect(priceFor(CostLedger.defaultPrices, "gpt-4o-mini")).toEqual({ input: 0.15, output: 0.6 })
    expect(priceFor(CostLedger.defaultPrices, "gpt-4o-mini-2024-07-18")).toEqual({ input: 0.15, output: 0.6 })
    expect(priceFor(CostLedger.defaultPrices, "gpt-4o-2024-08-06")).toEqual({ input: 2.5, output: 10 })
    expect(priceFor(CostLedger.defaultPrices, "gpt-4o-mini-turbo")).toBeUndefined()
    expect(priceFor(CostLedger.defaultPrices, "stand-in-summary-1")).toBeUndefined()
    expect(priceFor(CostLedger.defaultPrices, "constructor")).toBeUndefined()
  })

  it("reads usage from chat completions, the Responses API, Anthropic and event streams", () => {
    expect(meteredFrom("application/json", JSON.stringify({ model: "m", usage: { prompt_tokens: 10, completion_tokens: 3 } })))
      .toEqual({ model: "m", usage: { inputTokens: 10, outputTokens: 3 } })
    expect(meteredFrom("application/json; charset=utf-8", JSON.stringify({ model: "c", usage: { input_tokens: 7, output_tokens: 2 } })))
      .toEqual({ model: "c", usage: { inputTokens: 7, outputTokens: 2 } })
    const stream = [
      `data: ${JSON.stringify({ model: "s", choices: [{ delta: { content: "a" } }] })}`,
      `data: ${JSON.stringify({ model: "s", choices: [], usage: { prompt_tokens: 4, completion_tokens: 9 } })}`,
      "data: [DONE]"
    ].join("\n\n")
    expect(meteredFrom("text/event-stream", stream)).toEqual({ model: "s", usage: { inputTokens: 4, outputTokens: 9 } })
    expect(meteredFrom("text/html", "<html>")).toEqual({ model: undefined, usage: undefined })
    expect(meteredFrom("application/json", `{"tenders": []}`)).toEqual({ model: undefined, usage: undefined })
    expect(requestedModel(`{"model":"gpt-4o","messages":[]}`)).toBe("gpt-4o")
    expect(requestedModel("not json")).toBeUndefined()
  })
})

describe("settings", () => {
  it("are optional: no budget, the default prices", () => {
    expect(settings({})).toMatchObject({ _tag: "Right", right: { maxCalls: undefined, maxCostUsd: undefined, pricesSet: [] } })
  })

  it("merge WORKFLOW_LIVE_PRICES over the defaults", () => {
    const s = settings({ WORKFLOW_LIVE_PRICES: `{"my-model":{"input":1,"output":2}}`, WORKFLOW_LIVE_MAX_CALLS: "3" })
    expect(s._tag).toBe("Right")
    if (s._tag === "Right") {
      expect(s.right.prices["my-model"]).toEqual({ input: 1, output: 2 })
      expect(s.right.prices["gpt-4o-mini"]).toEqual({ input: 0.15, output: 0.6 })
      expect(s.right.maxCalls).toBe(3)
    }
  })

  it.each([
    [{ WORKFLOW_LIVE_MAX_CALLS: "two" }, "invalid-max-calls", "WORKFLOW_LIVE_MAX_CALLS"],
    [{ WORKFLOW_LIVE_MAX_CALLS: "-1" }, "invalid-max-calls", "WORKFLOW_LIVE_MAX_CALLS"],
    [{ WORKFLOW_LIVE_MAX_COST_USD: "$1" }, "invalid-max-cost", "WORKFLOW_LIVE_MAX_COST_USD"],
    [{ WORKFLOW_LIVE_PRICES: `{"m": {"input": "cheap"}}` }, "invalid-prices", "`m`"],
    [{ WORKFLOW_LIVE_PRICES: "/no/such/prices.json" }, "invalid-prices", "WORKFLOW_LIVE_PRICES"]
  ] as const)("refuse %j with %s, naming the setting and the fix", (env, reason, named) => {
    const s = settings(env)
    expect(s._tag).toBe("Left")
    if (s._tag === "Left") {
      expect(s.left.reason).toBe(reason)
      expect(s.left.message).toContain(named)
      expect(s.left.message).toContain("Fix: export")
    }
  })
})

describe("the ledger", () => {
  it("with a budget of 1 call refuses the second, for whichever client asks", () =>
    withLedger({ ...base, maxCalls: 1 }, async (ledger, a, b) => {
      const first = await a.reserve(call("a.test.ts > one"))
      expect("id" in first).toBe(true)
      const second = await b.reserve(call("b.test.ts > two"))
      expect(second).toMatchObject({ reason: "max-calls", setting: "WORKFLOW_LIVE_MAX_CALLS", limit: "1", spentCalls: 1 })
      a.settle((first as { id: string }).id, record(call("a.test.ts > one"), 1, [100, 20]))
      await a.flush()
      const summary = ledger.summary()
      expect(summary.total.calls).toBe(1)
      expect(summary.budget.exceeded).toMatchObject({ reason: "max-calls", test: "b.test.ts > two", overrun: false })
    }))

  it("lets calls in flight count: parallel reservations cannot both slip under the limit", () =>
    withLedger({ ...base, maxCalls: 2 }, async (_ledger, a, b) => {
      const answers = await Promise.all([a.reserve(call("a")), b.reserve(call("b")), a.reserve(call("a")), b.reserve(call("b"))])
      expect(answers.filter((x) => "id" in x)).toHaveLength(2)
      expect(answers.filter((x) => "reason" in x)).toHaveLength(2)
    }))

  it("prices tokens, sums per test in a stable order, and tells unpriced models apart", () =>
    withLedger(base, async (ledger, a, b) => {
      b.settle(undefined, record(call("z.test.ts > last"), 1, [1_000_000, 0]))
      a.settle(undefined, record(call("a.test.ts > first", { model: "gpt-4o-mini-2024-07-18" }), 2, [0, 1_000_000]))
      a.settle(undefined, record(call("a.test.ts > first", { method: "GET", origin: "{TENDERBOT_TENDERS_API_URL}", path: "/tenders", model: undefined }), 1))
      a.settle(undefined, record(call("a.test.ts > first", { model: "local-llama" }), 3, [10, 10]))
      await Promise.all([a.flush(), b.flush()])
      const summary = ledger.summary()
      expect(summary.calls.map((c) => [c.test, c.seq])).toEqual([
        ["a.test.ts > first", 1],
        ["a.test.ts > first", 2],
        ["a.test.ts > first", 3],
        ["z.test.ts > last", 1]
      ])
      expect(summary.calls[0]).toMatchObject({ model: null, inputTokens: null, costUsd: null, priced: null })
      expect(summary.calls[1]).toMatchObject({ costUsd: 0.6, priced: true })
      expect(summary.calls[2]).toMatchObject({ costUsd: null, priced: false, inputTokens: 10 })
      expect(summary.tests[0]).toMatchObject({ test: "a.test.ts > first", calls: 3, costUsd: 0.6, unpricedModels: ["local-llama"] })
      expect(summary.total).toMatchObject({ calls: 4, live: 4, inputTokens: 1_000_010, outputTokens: 1_000_010, costUsd: 0.75 })
      const line = CostLedger.render(summary)
      expect(line).toContain("external calls: 4 (4 live)")
      expect(line).toContain("estimated cost at least $0.7500 (price unknown: local-llama)")
      const table = CostLedger.renderMarkdown(summary)
      expect(table).toContain("| a.test.ts > first | 3 | 3 live | 10 | 1,000,010 | at least $0.6000 (price unknown: local-llama) |")
      expect(table).toContain("| **total** | 4 |")
    }))

  it("refuses an LLM call a cost budget cannot cover, and any call to a model without a price", () =>
    withLedger({ ...base, maxCostUsd: 0.5 }, async (ledger, a) => {
      // free calls (no model, no usage) always pass a cost budget
      expect("id" in await a.reserve(call("t", { model: undefined, path: "/tenders" }))).toBe(true)
      const first = await a.reserve(call("t"))
      expect("id" in first).toBe(true)
      a.settle((first as { id: string }).id, record(call("t"), 1, [1_000_000, 200_000]))
      await a.flush()
      // spent 0.27; one more like it (0.27) would reach 0.54 >= 0.5
      expect(await a.reserve(call("t"))).toMatchObject({ reason: "max-cost", limit: "0.5", spentUsd: 0.27 })
      expect(await a.reserve(call("t", { model: "no-price-model" }))).toMatchObject({ reason: "price-unknown", model: "no-price-model" })
      expect(ledger.summary().budget.exceeded?.reason).toBe("max-cost")
    }))

  it("fails the run when an allowed call turns out to cost more than the budget left", () =>
    withLedger({ ...base, maxCostUsd: 0.1 }, async (ledger, a) => {
      const exceeded: Array<CostLedger.Refusal> = []
      ledger.onExceeded((e) => exceeded.push(e))
      const first = await a.reserve(call("t"))
      a.settle((first as { id: string }).id, record(call("t"), 1, [1_000_000, 0]))
      await a.flush()
      expect(ledger.summary().budget.exceeded).toMatchObject({ reason: "max-cost", overrun: true, spentUsd: 0.15 })
      expect(exceeded).toHaveLength(1)
    }))

  it("counts a call it was not asked about (node:http) after the fact, and fails the run past the limit", () =>
    withLedger({ ...base, maxCalls: 1 }, async (ledger, a) => {
      a.settle(undefined, record(call("t", { method: "GET", path: "/a", model: undefined }), 1))
      await a.flush()
      expect(ledger.summary().budget.exceeded).toBeNull()
      a.settle(undefined, record(call("t", { method: "GET", path: "/b", model: undefined }), 2))
      await a.flush()
      expect(ledger.summary().budget.exceeded).toMatchObject({ reason: "max-calls", overrun: true, spentCalls: 2, request: "GET {TENDERBOT_LLM_BASE_URL}/b" })
    }))

  it("BudgetExceeded names the test, the request, the spend so far and the setting", () => {
    const error = new CostLedger.BudgetExceeded({
      reason: "max-calls",
      test: "tender-alert.test.ts > job",
      request: "POST {TENDERBOT_LLM_BASE_URL}/chat/completions",
      refusal: { reason: "max-calls", setting: "WORKFLOW_LIVE_MAX_CALLS", limit: "1", spentCalls: 1, spentUsd: 0, model: undefined }
    })
    expect(error.message).toContain(`POST {TENDERBOT_LLM_BASE_URL}/chat/completions in test "tender-alert.test.ts > job" was not sent`)
    expect(error.message).toContain("Spent so far: 1 call(s), $0.000000")
    expect(error.message).toContain("WORKFLOW_LIVE_MAX_CALLS=1")
    expect(error.message).toContain("Fix:")
  })
})

describe("docs/performance.md", () => {
  it("carries the cost section the bench generates, with the tokens of the committed recording of the sample suite", () => {
    const docs = readFileSync("docs/performance.md", "utf8")
    const begin = docs.indexOf("<!-- cost: generated by bench/replay.bench.ts")
    const end = docs.indexOf("<!-- cost: end -->")
    expect(begin).toBeGreaterThan(0)
    expect(end).toBeGreaterThan(begin)
    const cassette = JSON.parse(readFileSync("test/workflow_live/__cassettes__/tender-alert.test.ts.json", "utf8")) as {
      tests: Record<string, ReadonlyArray<{ responses: ReadonlyArray<{ json?: { usage?: { prompt_tokens: number; completion_tokens: number } } }> }>>
    }
    const usages = Object.values(cassette.tests).flat().flatMap((i) => i.responses).flatMap((r) => r.json?.usage ?? [])
    const input = usages.reduce((sum, u) => sum + u.prompt_tokens, 0)
    const output = usages.reduce((sum, u) => sum + u.completion_tokens, 0)
    expect(usages.length).toBe(2)
    expect(docs.slice(begin, end)).toContain(`(${input} input and ${output} output tokens)`)
  })
})
