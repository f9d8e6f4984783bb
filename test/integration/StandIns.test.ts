import { FetchHttpClient } from "@effect/platform"
import { afterAll, beforeAll, describe, expect, it, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as TenderAlert from "../../examples/tender-alert/TenderAlert.js"
import * as DbAssert from "../../src/DbAssert.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as Fixtures from "../../src/Fixtures.js"
import * as StandIns from "../../src/StandIns.js"
import * as WorkflowLive from "../../src/WorkflowLive.js"
import * as TestDatabase from "../support/testDatabase.js"

const database = "wl_it_fixtures_3"

beforeAll(() => TestDatabase.runPromise(TestDatabase.create(database)), 60_000)
afterAll(() => TestDatabase.runPromise(TestDatabase.drop(database)), 60_000)

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, body: await response.json() as unknown }
  })

describe("StandIns", () => {
  it.scoped("answer /health, refuse the LLM API without the bearer key, and count the calls", () =>
    Effect.gen(function*() {
      const standIns = yield* StandIns.make({ llmApiKey: "k-123" })
      const llmOrigin = new URL(standIns.llmBaseUrl).origin
      const tendersOrigin = new URL(standIns.tendersApiUrl).origin
      expect((yield* get(`${llmOrigin}/health`)).status).toBe(200)
      expect((yield* get(`${tendersOrigin}/health`)).status).toBe(200)
      expect((yield* get(`${standIns.llmBaseUrl}/models`)).status).toBe(401)
      expect((yield* get(`${standIns.llmBaseUrl}/models`, { authorization: "Bearer wrong" })).status).toBe(401)
      expect((yield* get(`${standIns.llmBaseUrl}/models`, { authorization: "Bearer k-123" })).status).toBe(200)
      expect((yield* get(standIns.tendersApiUrl)).status).toBe(200)
      const tenders = yield* get(`${standIns.tendersApiUrl}/tenders?since=2026-02-04T00:00:00Z`)
      expect((tenders.body as { tenders: Array<{ externalId: string }> }).tenders.map((t) => t.externalId)).toEqual([
        "ted-2026-000104",
        "ted-2026-000105"
      ])
      expect((yield* get(`${llmOrigin}/__stats`)).body).toEqual({ calls: 3, completions: 0, unauthorized: 2 })
      expect((yield* get(`${tendersOrigin}/__stats`)).body).toEqual({ calls: 2 })
      expect(standIns.stats()).toEqual({ llm: { calls: 3, completions: 0, unauthorized: 2 }, tenders: { calls: 2 } })
    }))

  it.scoped("chat completions name the model asked for and report OpenAI-style usage", () =>
    Effect.gen(function*() {
      const standIns = yield* StandIns.make({ llmApiKey: "k-123" })
      const messages = [
        { role: "system", content: "Summarise the tender in one sentence." },
        { role: "user", content: "Title: Bridge repair\nBuyer: Stadt Ulm" }
      ]
      const body = yield* Effect.promise(() =>
        fetch(`${standIns.llmBaseUrl}/chat/completions`, {
          method: "POST",
          headers: { authorization: "Bearer k-123", "content-type": "application/json" },
          body: JSON.stringify({ model: "gpt-4o-mini", messages })
        }).then((r) => r.json() as Promise<{ model: string; usage: Record<string, number> }>)
      )
      expect(body.model).toBe("gpt-4o-mini")
      // 3 + (4 + 37/4) + (4 + 37/4) prompt tokens; "Bridge repair, for Stadt Ulm." is 29 characters
      expect(body.usage).toEqual({ prompt_tokens: 29, completion_tokens: 7, total_tokens: 36 })
      expect(StandIns.usageFor(messages, "Bridge repair, for Stadt Ulm.")).toEqual(body.usage)
    }))

  it.scoped("stop listening when their scope closes", () =>
    Effect.gen(function*() {
      const url = yield* Effect.scoped(Effect.map(StandIns.make(), (s) => `${new URL(s.llmBaseUrl).origin}/health`))
      const refused = yield* Effect.promise(() => fetch(url).then(() => false, () => true))
      expect(refused).toBe(true)
    }))

  it.scoped("a taken port is a typed error naming the server and port", () =>
    Effect.gen(function*() {
      const first = yield* StandIns.make()
      const port = Number(new URL(first.llmBaseUrl).port)
      const error = yield* Effect.flip(StandIns.make({ llmPort: port }))
      expect(error.reason).toBe("listen-failed")
      expect(error.server).toBe("llm")
      expect(error.message).toContain(`127.0.0.1:${port}`)
    }))
})

const Suite = WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)))

layer(Suite, { excludeTestServices: true })("the tender-alert job against the stand-ins", (it) => {
  const jobLayer = (standIns: StandIns.StandIns, key = standIns.llmApiKey) =>
    Layer.merge(
      Layer.succeed(TenderAlert.TenderAlertConfig, {
        tendersApiUrl: standIns.tendersApiUrl,
        llmBaseUrl: standIns.llmBaseUrl,
        llmApiKey: Redacted.make(key),
        llmModel: "stand-in-summary-1",
        systemPrompt: TenderAlert.defaultSystemPrompt
      }),
      FetchHttpClient.layer
    )

  it.scoped("summarises each new match once, through the LLM API, and writes matches and notifications", () =>
    Effect.gen(function*() {
      const standIns = yield* StandIns.make()
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      const roads = yield* fixtures.alertProfile(customer, {
        name: "Roads",
        keywords: ["asphalt", "resurfacing", "road"],
        cpvCodes: ["45233"],
        regions: ["DE21", "DE22"],
        minValueEur: 50000
      })
      const bridges = yield* fixtures.alertProfile(customer, {
        name: "Bridges",
        keywords: ["bridge"],
        cpvCodes: [],
        regions: ["DE21"],
        minValueEur: null
      })
      const run = TenderAlert.run({ customerId: customer.id, since: new Date("2026-01-01T00:00:00Z") }).pipe(
        Effect.provide(jobLayer(standIns))
      )
      expect(yield* run).toMatchObject({ tendersFetched: 5, matchesWritten: 3, notificationsWritten: 3 })
      const summary = (externalId: string) =>
        StandIns.summaryFor(TenderAlert.promptFor(StandIns.sourceTenders.find((t) => t.externalId === externalId)!))
      yield* DbAssert.exactly("tender_matches", customer, [
        { alertProfileName: roads.name, tenderExternalId: "ted-2026-000101", score: 1, summary: summary("ted-2026-000101") },
        { alertProfileName: roads.name, tenderExternalId: "ted-2026-000102", score: 0.6667, summary: summary("ted-2026-000102") },
        { alertProfileName: bridges.name, tenderExternalId: "ted-2026-000105", score: 1, summary: summary("ted-2026-000105") }
      ])
      yield* DbAssert.exactly("notifications", customer, [
        { tenderExternalId: "ted-2026-000101", subject: "New tender: Resurfacing of the B 13 between Freising and Moosburg" },
        { tenderExternalId: "ted-2026-000102", subject: "New tender: Asphalt repair of municipal roads in Landshut" },
        { tenderExternalId: "ted-2026-000105", subject: "New tender: Inspection of the Isar bridges in Munich" }
      ])
      expect(standIns.stats().llm.completions).toBe(3)

      expect(yield* run).toMatchObject({ tendersFetched: 5, matchesWritten: 0, notificationsWritten: 0 })
      expect(standIns.stats()).toEqual({ llm: { calls: 3, completions: 3, unauthorized: 0 }, tenders: { calls: 2 } })
    }))

  it.scoped("a wrong LLM key fails the job with llm-api, writes no match and never shows the key", () =>
    Effect.gen(function*() {
      const standIns = yield* StandIns.make()
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      yield* fixtures.alertProfile(customer, { keywords: ["asphalt"], cpvCodes: [], regions: [], minValueEur: null })
      const error = yield* Effect.flip(
        TenderAlert.run({ customerId: customer.id, since: new Date("2026-01-01T00:00:00Z") }).pipe(
          Effect.provide(jobLayer(standIns, "sk-wrong-secret-value"))
        )
      )
      expect(error.reason).toBe("llm-api")
      expect(error.message).toContain("401")
      expect(error.message).not.toContain("sk-wrong-secret-value")
      expect(standIns.stats().llm.unauthorized).toBe(1)
      yield* DbAssert.exactly("tender_matches", customer, [])
    }))
})
