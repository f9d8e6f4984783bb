/**
 * The sample workflow the first live suite exercises: the tender-alert job.
 *
 * For one customer: fetch the tenders published since a date from the tender source API, store them,
 * match them against the customer's active alert profiles, ask the LLM API (OpenAI-compatible, over
 * HTTP) for a one-sentence summary of each new match, and write `tender_matches` and `notifications`.
 * Running it again writes nothing new and calls the LLM for nothing: a match exists at most once.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { Config, Context, Data, Effect, Layer, Redacted, Schema } from "effect"
import type { ConfigError } from "effect/ConfigError"

/** Where the job's external APIs are, read from the same variables the lane's preflight checks. */
export interface TenderAlertConfig {
  readonly tendersApiUrl: string
  readonly llmBaseUrl: string
  readonly llmApiKey: Redacted.Redacted<string>
  readonly llmModel: string
  /** The system prompt of the summary request. */
  readonly systemPrompt: string
}

/** The service tag for the job's configuration. */
export const TenderAlertConfig: Context.Tag<TenderAlertConfig, TenderAlertConfig> = Context.GenericTag<
  TenderAlertConfig
>("tender-alert/TenderAlertConfig")

/** The summary request's system prompt unless `TENDERBOT_LLM_SYSTEM_PROMPT` says otherwise. */
export const defaultSystemPrompt = "Summarise the tender in one sentence for a construction company."

/**
 * Reads `TENDERBOT_TENDERS_API_URL`, `TENDERBOT_LLM_BASE_URL`, `TENDERBOT_LLM_API_KEY` (and optional
 * `TENDERBOT_LLM_MODEL`, `TENDERBOT_LLM_SYSTEM_PROMPT`).
 */
export const layerConfig: Layer.Layer<TenderAlertConfig, ConfigError> = Layer.effect(
  TenderAlertConfig,
  Config.all({
    tendersApiUrl: Config.string("TENDERBOT_TENDERS_API_URL"),
    llmBaseUrl: Config.string("TENDERBOT_LLM_BASE_URL"),
    llmApiKey: Config.redacted("TENDERBOT_LLM_API_KEY"),
    llmModel: Config.string("TENDERBOT_LLM_MODEL").pipe(Config.withDefault("gpt-4o-mini")),
    systemPrompt: Config.string("TENDERBOT_LLM_SYSTEM_PROMPT").pipe(Config.withDefault(defaultSystemPrompt))
  })
)

/** The job's HTTP client (fetch) and configuration from the environment. */
export const layer: Layer.Layer<TenderAlertConfig | HttpClient.HttpClient, ConfigError> = Layer.merge(
  layerConfig,
  FetchHttpClient.layer
)

/** A tender as the source API returns it. */
export const ApiTender = Schema.Struct({
  externalId: Schema.String,
  title: Schema.String,
  description: Schema.String,
  buyer: Schema.String,
  cpvCodes: Schema.Array(Schema.String),
  region: Schema.NullOr(Schema.String),
  valueEur: Schema.NullOr(Schema.Number),
  publishedAt: Schema.String,
  deadlineAt: Schema.NullOr(Schema.String)
})
/** A tender as the source API returns it. */
export type ApiTender = typeof ApiTender.Type

const TendersResponse = Schema.Struct({ tenders: Schema.Array(ApiTender) })

const ChatCompletion = Schema.Struct({
  choices: Schema.NonEmptyArray(Schema.Struct({ message: Schema.Struct({ content: Schema.String }) }))
})

/** An alert profile, as the job reads it. */
export interface Profile {
  readonly id: number
  readonly name: string
  readonly keywords: ReadonlyArray<string>
  readonly cpvCodes: ReadonlyArray<string>
  readonly regions: ReadonlyArray<string>
  readonly minValueEur: number | null
}

/**
 * Whether a tender matches a profile, and how well: every set criterion must hold (value, region, CPV
 * prefix, at least one keyword); the score is the share of the profile's keywords found.
 */
export const score = (profile: Profile, tender: ApiTender): number | undefined => {
  if (profile.minValueEur !== null && tender.valueEur !== null && tender.valueEur < profile.minValueEur) return undefined
  if (profile.regions.length > 0 && (tender.region === null || !profile.regions.includes(tender.region))) return undefined
  if (
    profile.cpvCodes.length > 0 &&
    !profile.cpvCodes.some((prefix) => tender.cpvCodes.some((code) => code.startsWith(prefix)))
  ) return undefined
  if (profile.keywords.length === 0) return 1
  const text = `${tender.title} ${tender.description}`.toLowerCase()
  const found = profile.keywords.filter((keyword) => text.includes(keyword.toLowerCase())).length
  return found === 0 ? undefined : Math.round((found / profile.keywords.length) * 10_000) / 10_000
}

/** The user message sent to the LLM for a tender. */
export const promptFor = (tender: ApiTender): string =>
  [
    `Title: ${tender.title}`,
    `Buyer: ${tender.buyer}`,
    `Value: ${tender.valueEur === null ? "not stated" : `EUR ${tender.valueEur}`}`,
    `Deadline: ${tender.deadlineAt ?? "not stated"}`,
    `Description: ${tender.description}`
  ].join("\n")

/** The notification's subject for a matched tender. */
export const subjectFor = (tender: ApiTender): string => `New tender: ${tender.title}`

/** Why the job failed. */
export type TenderAlertReason = "tenders-api" | "llm-api" | "database"

/** The job failed talking to one of its dependencies. */
export class TenderAlertError extends Data.TaggedError("TenderAlertError")<{
  readonly reason: TenderAlertReason
  readonly detail: string
}> {
  override get message(): string {
    return `tender-alert job failed (${this.reason}): ${this.detail}`
  }
}

/** What one run of the job did. */
export interface Result {
  readonly tendersFetched: number
  /** The `tenders` rows the job stored (new or already there), by id: what a caller cleans up. */
  readonly tendersStored: ReadonlyArray<number>
  readonly matchesWritten: number
  readonly notificationsWritten: number
}

const fetchTenders = (since: Date) =>
  Effect.gen(function*() {
    const config = yield* TenderAlertConfig
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
    const request = HttpClientRequest.get(`${config.tendersApiUrl.replace(/\/$/, "")}/tenders`).pipe(
      HttpClientRequest.setUrlParam("since", since.toISOString())
    )
    const response = yield* client.execute(request)
    return (yield* HttpClientResponse.schemaBodyJson(TendersResponse)(response)).tenders
  }).pipe(
    Effect.scoped,
    Effect.mapError((e) => new TenderAlertError({ reason: "tenders-api", detail: e.message }))
  )

const summarize = (tender: ApiTender) =>
  Effect.gen(function*() {
    const config = yield* TenderAlertConfig
    const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk)
    const request = yield* HttpClientRequest.post(`${config.llmBaseUrl.replace(/\/$/, "")}/chat/completions`).pipe(
      HttpClientRequest.bearerToken(Redacted.value(config.llmApiKey)),
      HttpClientRequest.bodyJson({
        model: config.llmModel,
        messages: [
          { role: "system", content: config.systemPrompt },
          { role: "user", content: promptFor(tender) }
        ],
        max_tokens: 80
      })
    )
    const response = yield* client.execute(request)
    const completion = yield* HttpClientResponse.schemaBodyJson(ChatCompletion)(response)
    return completion.choices[0].message.content.trim()
  }).pipe(
    Effect.scoped,
    // the key never reaches the message: only status and URL are shown
    Effect.mapError((e) => new TenderAlertError({ reason: "llm-api", detail: "message" in e ? e.message : e._tag }))
  )

/** Runs the job for one customer, for tenders published since `since`. */
export const run = (options: { readonly customerId: number; readonly since: Date }): Effect.Effect<
  Result,
  TenderAlertError,
  SqlClient.SqlClient | HttpClient.HttpClient | TenderAlertConfig
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const db = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.mapError(effect, (e) => new TenderAlertError({ reason: "database", detail: String(e) }))

    const tenders = yield* fetchTenders(options.since)
    const profiles = yield* db(sql<{
      id: string
      name: string
      keywords: Array<string>
      cpv_codes: Array<string>
      regions: Array<string>
      min_value_eur: string | null
    }>`SELECT id, name, keywords, cpv_codes, regions, min_value_eur FROM alert_profiles
      WHERE customer_id = ${options.customerId} AND active ORDER BY id`)

    let matchesWritten = 0
    let notificationsWritten = 0
    const tendersStored: Array<number> = []
    for (const tender of tenders) {
      const matching = profiles.flatMap((row) => {
        const profile: Profile = {
          id: Number(row.id),
          name: row.name,
          keywords: row.keywords,
          cpvCodes: row.cpv_codes,
          regions: row.regions,
          minValueEur: row.min_value_eur === null ? null : Number(row.min_value_eur)
        }
        const s = score(profile, tender)
        return s === undefined ? [] : [{ profile, score: s }]
      })
      if (matching.length === 0) continue
      const [stored] = yield* db(sql<{ id: string }>`INSERT INTO tenders ${
        sql.insert({
          external_id: tender.externalId,
          title: tender.title,
          description: tender.description,
          buyer: tender.buyer,
          cpv_codes: [...tender.cpvCodes],
          region: tender.region,
          value_eur: tender.valueEur,
          published_at: new Date(tender.publishedAt),
          deadline_at: tender.deadlineAt === null ? null : new Date(tender.deadlineAt)
        })
      } ON CONFLICT (external_id) DO UPDATE SET title = EXCLUDED.title RETURNING id`)
      const tenderId = Number(stored!.id)
      tendersStored.push(tenderId)
      const existing = yield* db(sql<{ alert_profile_id: string }>`SELECT alert_profile_id FROM tender_matches
        WHERE tender_id = ${tenderId} AND alert_profile_id = ANY(${matching.map((m) => String(m.profile.id))}::bigint[])`)
      const known = new Set(existing.map((row) => Number(row.alert_profile_id)))
      const fresh = matching.filter((m) => !known.has(m.profile.id))
      if (fresh.length === 0) continue
      // one summary per tender, shared by the customer's profiles: the LLM is the expensive part
      const summary = yield* summarize(tender)
      for (const { profile, score: s } of fresh) {
        yield* db(sql.withTransaction(Effect.gen(function*() {
          const [match] = yield* sql<{ id: string }>`INSERT INTO tender_matches ${
            sql.insert({ alert_profile_id: profile.id, tender_id: tenderId, score: s, summary })
          } RETURNING id`
          yield* sql`INSERT INTO notifications ${
            sql.insert({
              customer_id: options.customerId,
              tender_match_id: match!.id,
              channel: "email",
              subject: subjectFor(tender),
              body: `${summary}\n\nAlert profile: ${profile.name}\nBuyer: ${tender.buyer}\nDeadline: ${
                tender.deadlineAt ?? "not stated"
              }`,
              status: "pending"
            })
          }`
        })))
        matchesWritten++
        notificationsWritten++
      }
    }
    return { tendersFetched: tenders.length, tendersStored, matchesWritten, notificationsWritten }
  })
