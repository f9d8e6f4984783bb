/**
 * Stand-ins for the two external APIs the sample workflow calls: an OpenAI-compatible LLM API and the
 * tender source API. Real `node:http` servers on 127.0.0.1 answering deterministic data, so this
 * repository's own lane runs end to end without the internet. Startable from code (`make`, scoped) and
 * from a script (`examples/tender-alert/stand-ins.ts`).
 *
 * Both answer `GET /health` (200) and `GET /__stats` (the calls they received). The LLM stand-in
 * requires `Authorization: Bearer <key>` on every API route and answers 401 otherwise, like the real one;
 * its chat completions name the model asked for and report OpenAI-style `usage`, so a run's cost ledger
 * shows real token counts.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Data, Effect, type Scope } from "effect"

/** A tender as the source API publishes it. */
export interface SourceTender {
  readonly externalId: string
  readonly title: string
  readonly description: string
  readonly buyer: string
  readonly cpvCodes: ReadonlyArray<string>
  readonly region: string | null
  readonly valueEur: number | null
  readonly publishedAt: string
  readonly deadlineAt: string | null
}

/** The tender source stand-in's data: fixed, so every run sees the same tenders. */
export const sourceTenders: ReadonlyArray<SourceTender> = [
  {
    externalId: "ted-2026-000101",
    title: "Resurfacing of the B 13 between Freising and Moosburg",
    description: "Milling and asphalt resurfacing of 4.2 km of federal road, including road markings.",
    buyer: "Staatliches Bauamt Freising",
    cpvCodes: ["45233142", "45233221"],
    region: "DE21",
    valueEur: 1850000,
    publishedAt: "2026-02-02T08:00:00.000Z",
    deadlineAt: "2026-03-06T12:00:00.000Z"
  },
  {
    externalId: "ted-2026-000102",
    title: "Asphalt repair of municipal roads in Landshut",
    description: "Pothole and asphalt repairs on 12 municipal roads, framework agreement for two years.",
    buyer: "Stadt Landshut, Tiefbauamt",
    cpvCodes: ["45233142"],
    region: "DE22",
    valueEur: 420000,
    publishedAt: "2026-02-03T09:30:00.000Z",
    deadlineAt: "2026-03-10T10:00:00.000Z"
  },
  {
    externalId: "ted-2026-000103",
    title: "Cleaning services for the town hall of Augsburg",
    description: "Daily office cleaning and window cleaning, 6,400 m2.",
    buyer: "Stadt Augsburg",
    cpvCodes: ["90910000"],
    region: "DE27",
    valueEur: 90000,
    publishedAt: "2026-02-03T11:00:00.000Z",
    deadlineAt: "2026-03-01T12:00:00.000Z"
  },
  {
    externalId: "ted-2026-000104",
    title: "Road marking renewal on the A 9 near Allershausen",
    description: "Renewal of road markings on 3 km of motorway.",
    buyer: "Die Autobahn GmbH des Bundes, Niederlassung Südbayern",
    cpvCodes: ["45233221"],
    region: "DE21",
    valueEur: 30000,
    publishedAt: "2026-02-04T07:15:00.000Z",
    deadlineAt: "2026-02-27T12:00:00.000Z"
  },
  {
    externalId: "ted-2026-000105",
    title: "Inspection of the Isar bridges in Munich",
    description: "Structural inspection of 14 road bridges under DIN 1076.",
    buyer: "Landeshauptstadt München, Baureferat",
    cpvCodes: ["71631450"],
    region: "DE21",
    valueEur: 300000,
    publishedAt: "2026-02-05T10:00:00.000Z",
    deadlineAt: null
  }
]

/**
 * The LLM stand-in's answer to a chat completion: a function of the last user message only, so a
 * test can compute the summary it expects.
 */
export const summaryFor = (userMessage: string): string => {
  const lines = userMessage.split("\n").map((line) => line.trim()).filter((line) => line !== "")
  const title = lines.find((line) => line.startsWith("Title:"))?.slice(6).trim() ?? lines[0] ?? "a tender"
  const buyer = lines.find((line) => line.startsWith("Buyer:"))?.slice(6).trim()
  return `${title}${buyer === undefined ? "" : `, for ${buyer}`}.`
}

/** Tokens of a text by OpenAI's rule of thumb (about 4 characters a token); at least 1 for any text. */
export const tokensOf = (text: string): number => text === "" ? 0 : Math.max(1, Math.round(text.length / 4))

/**
 * The `usage` the LLM stand-in reports, counted the way OpenAI counts a chat: each message's content
 * plus 4 tokens of framing, 3 more to prime the reply; the completion is the answer's tokens.
 */
export const usageFor = (
  messages: ReadonlyArray<{ readonly content?: unknown }>,
  completion: string
): { readonly prompt_tokens: number; readonly completion_tokens: number; readonly total_tokens: number } => {
  const prompt = messages.reduce((sum, m) => sum + 4 + tokensOf(typeof m.content === "string" ? m.content : ""), 3)
  const answer = tokensOf(completion)
  return { prompt_tokens: prompt, completion_tokens: answer, total_tokens: prompt + answer }
}

/** The stand-in answers as the model asked for, like OpenAI-compatible servers do. */
const modelOf = (body: string): string => {
  try {
    const model = (JSON.parse(body) as { model?: unknown }).model
    return typeof model === "string" && model !== "" ? model : "stand-in-summary-1"
  } catch {
    return "stand-in-summary-1"
  }
}

/** Calls each stand-in received, by route; `unauthorized` counts LLM calls refused with 401. */
export interface Stats {
  readonly llm: { readonly calls: number; readonly completions: number; readonly unauthorized: number }
  readonly tenders: { readonly calls: number }
}

/** The running stand-ins. */
export interface StandIns {
  /** For `TENDERBOT_TENDERS_API_URL`: `http://127.0.0.1:<port>/api`. */
  readonly tendersApiUrl: string
  /** For `TENDERBOT_LLM_BASE_URL`: `http://127.0.0.1:<port>/v1` (OpenAI-style base URL). */
  readonly llmBaseUrl: string
  /** The key the LLM stand-in accepts (`TENDERBOT_LLM_API_KEY`); a test value, not a secret. */
  readonly llmApiKey: string
  /** The three variables, ready to export. */
  readonly env: Readonly<Record<"TENDERBOT_TENDERS_API_URL" | "TENDERBOT_LLM_BASE_URL" | "TENDERBOT_LLM_API_KEY", string>>
  readonly stats: () => Stats
}

/** Options for the stand-ins. */
export interface Options {
  /** Ports (0, the default, picks a free one). */
  readonly tendersPort?: number | undefined
  readonly llmPort?: number | undefined
  /** The key the LLM stand-in requires. Default `stand-in-key`. */
  readonly llmApiKey?: string | undefined
  /** How long a chat completion takes, like a real model's answer (default 0: at once). */
  readonly llmLatencyMs?: number | undefined
}

/** Why the stand-ins could not start. */
export type StandInsReason = "listen-failed"

/** A stand-in server could not listen. */
export class StandInsError extends Data.TaggedError("StandInsError")<{
  readonly reason: StandInsReason
  readonly server: "tenders" | "llm"
  readonly port: number
  readonly detail: string
}> {
  override get message(): string {
    return [
      `The ${this.server} stand-in could not listen on 127.0.0.1:${this.port} (${this.reason}).`,
      `  Detail: ${this.detail}`,
      `  Fix:    pick another port (or 0 for a free one), or stop the process holding it ` +
      `(\`ss -ltnp 'sport = :${this.port}'\`).`
    ].join("\n")
  }
}

const json = (res: http.ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => (body += chunk))
    req.on("end", () => resolve(body))
    req.on("error", reject)
  })

const tendersHandler = (stats: { calls: number }, current: () => Stats): http.RequestListener => (req, res) => {
  const url = new URL(req.url ?? "/", "http://stand-in")
  if (url.pathname === "/health") return json(res, 200, { status: "ok", server: "tenders" })
  if (url.pathname === "/__stats") return json(res, 200, current().tenders)
  stats.calls++
  if (req.method === "GET" && (url.pathname === "/api" || url.pathname === "/api/")) {
    return json(res, 200, { name: "tender source stand-in", tenders: "/api/tenders?since=<ISO date>" })
  }
  if (req.method === "GET" && url.pathname === "/api/tenders") {
    const since = url.searchParams.get("since")
    const from = since === null ? Number.NEGATIVE_INFINITY : Date.parse(since)
    if (Number.isNaN(from)) return json(res, 400, { error: "since must be an ISO date" })
    return json(res, 200, { tenders: sourceTenders.filter((t) => Date.parse(t.publishedAt) >= from) })
  }
  return json(res, 404, { error: `no route ${req.method} ${url.pathname}` })
}

const llmHandler = (
  stats: { calls: number; completions: number; unauthorized: number },
  key: string,
  latencyMs: number,
  current: () => Stats
): http.RequestListener =>
(req, res) => {
  const url = new URL(req.url ?? "/", "http://stand-in")
  if (url.pathname === "/health") return json(res, 200, { status: "ok", server: "llm" })
  if (url.pathname === "/__stats") return json(res, 200, current().llm)
  stats.calls++
  if (req.headers.authorization !== `Bearer ${key}`) {
    stats.unauthorized++
    return json(res, 401, { error: { message: "Incorrect API key provided", type: "invalid_request_error" } })
  }
  if (req.method === "GET" && url.pathname === "/v1/models") {
    return json(res, 200, { object: "list", data: [{ id: "stand-in-summary-1", object: "model" }] })
  }
  if (req.method === "POST" && url.pathname === "/v1/chat/completions") {
    stats.completions++
    readBody(req).then((text) => {
      let messages: ReadonlyArray<{ role?: unknown; content?: unknown }> = []
      try {
        messages = (JSON.parse(text) as { messages?: typeof messages }).messages ?? []
      } catch {
        return json(res, 400, { error: { message: "body is not JSON" } })
      }
      const user = [...messages].reverse().find((m) => m.role === "user")
      if (typeof user?.content !== "string") return json(res, 400, { error: { message: "no user message" } })
      const content = summaryFor(user.content)
      const answer = () => json(res, 200, {
        id: `chatcmpl-stand-in-${stats.completions}`,
        object: "chat.completion",
        model: modelOf(text),
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content } }],
        usage: usageFor(messages, content)
      })
      if (latencyMs <= 0) return answer()
      setTimeout(answer, latencyMs)
    }, () => json(res, 400, { error: { message: "unreadable body" } }))
    return
  }
  return json(res, 404, { error: { message: `no route ${req.method} ${url.pathname}` } })
}

const listen = (
  server: http.Server,
  name: "tenders" | "llm",
  port: number
): Effect.Effect<number, StandInsError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<number, StandInsError>((resume) => {
      const onError = (error: Error) =>
        resume(Effect.fail(new StandInsError({ reason: "listen-failed", server: name, port, detail: error.message })))
      server.once("error", onError)
      server.listen(port, "127.0.0.1", () => {
        server.off("error", onError)
        resume(Effect.succeed((server.address() as AddressInfo).port))
      })
    }),
    () =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** Starts both stand-ins; they stop when the scope closes. */
export const make = (options: Options = {}): Effect.Effect<StandIns, StandInsError, Scope.Scope> =>
  Effect.gen(function*() {
    const llmApiKey = options.llmApiKey ?? "stand-in-key"
    const tenderStats = { calls: 0 }
    const llmStats = { calls: 0, completions: 0, unauthorized: 0 }
    const stats = (): Stats => ({ llm: { ...llmStats }, tenders: { ...tenderStats } })
    const tendersPort = yield* listen(
      http.createServer(tendersHandler(tenderStats, stats)),
      "tenders",
      options.tendersPort ?? 0
    )
    const llmPort = yield* listen(
      http.createServer(llmHandler(llmStats, llmApiKey, options.llmLatencyMs ?? 0, stats)),
      "llm",
      options.llmPort ?? 0
    )
    const tendersApiUrl = `http://127.0.0.1:${tendersPort}/api`
    const llmBaseUrl = `http://127.0.0.1:${llmPort}/v1`
    return {
      tendersApiUrl,
      llmBaseUrl,
      llmApiKey,
      env: {
        TENDERBOT_TENDERS_API_URL: tendersApiUrl,
        TENDERBOT_LLM_BASE_URL: llmBaseUrl,
        TENDERBOT_LLM_API_KEY: llmApiKey
      },
      stats
    }
  })
