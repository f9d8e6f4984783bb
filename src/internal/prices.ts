/**
 * LLM prices and token usage: the defaults of the price table, how a model name finds its price, and
 * how the tokens of a call are read from an OpenAI-compatible response (JSON or a server-sent event
 * stream). A model without a price stays without one: the ledger shows its tokens and "price unknown".
 */

/** US dollars per 1 million tokens. */
export interface Price {
  readonly input: number
  readonly output: number
}

/** A price table: model name to price. */
export type PriceTable = Readonly<Record<string, Price>>

/** When the default prices were taken from the provider's public price list. */
export const defaultPricesAsOf = "2025-08"

/**
 * OpenAI's list prices (standard tier, uncached input) for the models a lane is likely to call, as of
 * {@link defaultPricesAsOf}. Cached input is cheaper, so an estimate from this table is an upper bound.
 * Override or extend with `WORKFLOW_LIVE_PRICES`.
 */
export const defaultPrices: PriceTable = {
  "gpt-4o": { input: 2.5, output: 10 },
  "gpt-4o-mini": { input: 0.15, output: 0.6 },
  "gpt-4.1": { input: 2, output: 8 },
  "gpt-4.1-mini": { input: 0.4, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, output: 0.4 },
  "o4-mini": { input: 1.1, output: 4.4 },
  "gpt-5": { input: 1.25, output: 10 },
  "gpt-5-mini": { input: 0.25, output: 2 },
  "gpt-5-nano": { input: 0.05, output: 0.4 }
}

// providers answer with a dated snapshot of the model asked for: `gpt-4o-mini-2024-07-18`
const datedSuffix = /-\d{4}-\d{2}-\d{2}$/

/** The price of a model: its exact name, else its name without a dated snapshot suffix; never a guess. */
export const priceFor = (table: PriceTable, model: string): Price | undefined =>
  Object.hasOwn(table, model) ? table[model] : Object.hasOwn(table, model.replace(datedSuffix, ""))
  ? table[model.replace(datedSuffix, "")]
  : undefined

/** What a call cost, in US dollars. */
export const costOf = (price: Price, usage: Usage): number =>
  (usage.inputTokens * price.input + usage.outputTokens * price.output) / 1_000_000

/** Tokens a call used, as the provider counted them. */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/** The model and usage an LLM response reports; both absent for other APIs. */
export interface Metered {
  readonly model: string | undefined
  readonly usage: Usage | undefined
}

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined

// OpenAI chat completions: prompt/completion tokens; the Responses API and Anthropic: input/output
const usageIn = (value: unknown): Usage | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const u = value as Record<string, unknown>
  const inputTokens = count(u["prompt_tokens"]) ?? count(u["input_tokens"])
  const outputTokens = count(u["completion_tokens"]) ?? count(u["output_tokens"])
  return inputTokens === undefined || outputTokens === undefined ? undefined : { inputTokens, outputTokens }
}

const meteredIn = (json: unknown): Metered => {
  if (typeof json !== "object" || json === null) return { model: undefined, usage: undefined }
  const body = json as Record<string, unknown>
  // the Responses API nests its result under `response` in stream events
  const inner = typeof body["response"] === "object" && body["response"] !== null
    ? body["response"] as Record<string, unknown>
    : body
  return {
    model: typeof inner["model"] === "string" ? inner["model"] : typeof body["model"] === "string" ? body["model"] : undefined,
    usage: usageIn(inner["usage"]) ?? usageIn(body["usage"])
  }
}

const parse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Reads model and usage from a response body: JSON, or an event stream whose last usage wins. */
export const meteredFrom = (contentType: string | undefined, body: string): Metered => {
  if (contentType !== undefined && /text\/event-stream/i.test(contentType)) {
    let found: Metered = { model: undefined, usage: undefined }
    for (const line of body.split("\n")) {
      if (!line.startsWith("data:")) continue
      const event = meteredIn(parse(line.slice(5).trim()))
      found = { model: event.model ?? found.model, usage: event.usage ?? found.usage }
    }
    return found
  }
  if (contentType !== undefined && !/json/i.test(contentType)) return { model: undefined, usage: undefined }
  return meteredIn(parse(body))
}

/** The model a request asks for (`model` in a JSON body), if any. */
export const requestedModel = (body: string): string | undefined => {
  const json = parse(body)
  return typeof json === "object" && json !== null && typeof (json as Record<string, unknown>)["model"] === "string"
    ? (json as Record<string, string>)["model"]
    : undefined
}

/** Dollars for people: small sums keep more decimals, so a cheap run never shows as $0.00. */
export const formatUsd = (usd: number): string =>
  usd >= 1 ? `$${usd.toFixed(2)}` : usd >= 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(6)}`
