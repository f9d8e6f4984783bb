/**
 * The run's cost ledger: every external call of the lane's tests (origin, method, path, status, time;
 * for LLM responses the model and its token usage), priced from a table, summed per test and in total,
 * and a budget that fails closed. There is one ledger per run, in the lane's main thread; the Vitest
 * workers ask it before each call is sent (see `internal/ledgerChannel.ts`), so parallel test files
 * share one budget. A call the budget does not allow is never sent.
 */
import { Config, Data, Effect, Option, type Scope } from "effect"
import { readFileSync } from "node:fs"
import { randomUUID } from "node:crypto"
import * as Channel from "./internal/ledgerChannel.js"
import { costOf, defaultPrices, defaultPricesAsOf, formatUsd, type Price, priceFor, type PriceTable } from "./internal/prices.js"

export type { CallMode, CallRecord, Refusal, RefusalReason } from "./internal/ledgerChannel.js"
export { defaultPrices, defaultPricesAsOf, formatUsd, type Price, type PriceTable } from "./internal/prices.js"

/** The most external calls a run may send (unset: no limit). */
export const maxCallsVariable = "WORKFLOW_LIVE_MAX_CALLS"
/** The most a run may spend on priced LLM calls, in US dollars (unset: no limit). */
export const maxCostVariable = "WORKFLOW_LIVE_MAX_COST_USD"
/** Prices per model (US dollars per 1M input/output tokens), JSON or a JSON file, merged over the defaults. */
export const pricesVariable = "WORKFLOW_LIVE_PRICES"

/** The ledger's settings. */
export interface Settings {
  readonly maxCalls: number | undefined
  readonly maxCostUsd: number | undefined
  readonly prices: PriceTable
  /** The models `WORKFLOW_LIVE_PRICES` set (empty: the defaults only). */
  readonly pricesSet: ReadonlyArray<string>
}

/** Every reason a setting of the ledger is refused, or the ledger cannot be reached. */
export const reasons = ["invalid-max-calls", "invalid-max-cost", "invalid-prices", "ledger-unreachable"] as const

/** Why the ledger could not start or be reached. */
export type Reason = typeof reasons[number]

/** A ledger setting is malformed, or a worker could not reach the ledger. */
export class CostLedgerError extends Data.TaggedError("CostLedgerError")<{
  readonly reason: Reason
  readonly detail: string
}> {
  override get message(): string {
    const fix: Record<Reason, string> = {
      "invalid-max-calls": `export ${maxCallsVariable}=20 (a whole number, 0 or more), or unset it for no limit`,
      "invalid-max-cost": `export ${maxCostVariable}=0.50 (US dollars, 0 or more), or unset it for no limit`,
      "invalid-prices": `export ${pricesVariable}='{"my-model":{"input":0.15,"output":0.6}}' (US dollars per 1M ` +
        `tokens), or the path of a JSON file with that shape`,
      "ledger-unreachable": "run the live project with `pool: \"threads\"` (the ledger lives in the lane's process " +
        "and is reached from its worker threads), and start it with `workflow-live run` or its global setup"
    }
    return [
      `The cost ledger refused to start or answer (${this.reason}): ${this.detail}`,
      "  Why: the lane counts and prices every external call, and enforces its budget, before any is sent.",
      `  Fix: ${fix[this.reason]}`
    ].join("\n")
  }
}

/** Every reason a call is refused by the budget. */
export const budgetReasons: ReadonlyArray<Channel.RefusalReason> = ["max-calls", "max-cost", "price-unknown"]

/** A call was not sent because the run's budget does not allow it; the lane fails. */
export class BudgetExceeded extends Data.TaggedError("BudgetExceeded")<{
  readonly reason: Channel.RefusalReason
  readonly test: string
  /** `METHOD url` with the URL as shown (variables in braces, no secret). */
  readonly request: string
  readonly refusal: Channel.Refusal
}> {
  override get message(): string {
    const r = this.refusal
    const spent = `${r.spentCalls} call(s), ${formatUsd(r.spentUsd)}`
    const why: Record<Channel.RefusalReason, string> = {
      "max-calls": `${r.setting}=${r.limit} allows ${r.limit} external call(s) per run and ${r.spentCalls} were sent or in flight`,
      "max-cost": `${r.setting}=${r.limit} allows $${r.limit} per run; spent so far ${formatUsd(r.spentUsd)}, and this ` +
        "call could cost as much as the most expensive one like it",
      "price-unknown": `${r.setting}=${r.limit} is set, but model \`${r.model ?? "?"}\` has no price, so the spend ` +
        "could not be held to it"
    }
    const fix: Record<Channel.RefusalReason, string> = {
      "max-calls": `raise it (export ${r.setting}=N) or unset it for no limit; or replay (--http=replay) to spend nothing`,
      "max-cost": `raise it (export ${r.setting}=N.NN) or unset it for no limit; or replay (--http=replay) to spend nothing`,
      "price-unknown": `add the model's price: export ${pricesVariable}='{"${r.model ?? "model"}":{"input":…,"output":…}}' ` +
        "(US dollars per 1M tokens)"
    }
    return [
      `Budget exceeded: ${this.request} in test "${this.test}" was not sent (${this.reason}).`,
      `  Spent so far: ${spent}. ${why[this.reason]}.`,
      "  Why: the budget fails closed: the call that would exceed it is never sent, and the lane fails.",
      `  Fix: ${fix[this.reason]}`
    ].join("\n")
  }
}

const raw = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((value) => value.trim() !== "")))

const invalid = (reason: Reason, variable: string, value: string, expected: string) =>
  new CostLedgerError({ reason, detail: `${variable}=${JSON.stringify(value)} is not ${expected}` })

const wholeNumber = (variable: string, value: string) =>
  /^\d+$/.test(value.trim()) ? Effect.succeed(Number(value)) : Effect.fail(invalid("invalid-max-calls", variable, value, "a whole number"))

const dollars = (variable: string, value: string) =>
  /^\d+(\.\d+)?$/.test(value.trim())
    ? Effect.succeed(Number(value))
    : Effect.fail(invalid("invalid-max-cost", variable, value, "an amount in US dollars (e.g. 0.50)"))

const isPrice = (value: unknown): value is Price =>
  typeof value === "object" && value !== null &&
  [(value as Price).input, (value as Price).output].every((n) => typeof n === "number" && Number.isFinite(n) && n >= 0)

const priceTable = (value: string) =>
  Effect.gen(function*() {
    const text = value.trim().startsWith("{")
      ? value
      : yield* Effect.try({
        try: () => readFileSync(value.trim(), "utf8"),
        catch: () => invalid("invalid-prices", pricesVariable, value, "JSON, nor a readable JSON file")
      })
    const parsed = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => invalid("invalid-prices", pricesVariable, value.slice(0, 80), "valid JSON")
    })
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      return yield* invalid("invalid-prices", pricesVariable, value.slice(0, 80), "an object of models")
    }
    const wrong = Object.entries(parsed).find(([, price]) => !isPrice(price))
    if (wrong !== undefined) {
      return yield* new CostLedgerError({
        reason: "invalid-prices",
        detail: `${pricesVariable}: the price of \`${wrong[0]}\` is not {"input": <number>, "output": <number>}`
      })
    }
    return parsed as PriceTable
  })

/** Reads and checks the ledger's settings from the environment (or any `ConfigProvider`). */
export const settings: Effect.Effect<Settings, CostLedgerError> = Effect.gen(function*() {
  const [calls, cost, prices] = yield* Effect.orDie(Config.all([raw(maxCallsVariable), raw(maxCostVariable), raw(pricesVariable)]))
  const set = Option.isSome(prices) ? yield* priceTable(prices.value) : {}
  return {
    maxCalls: Option.isSome(calls) ? yield* wholeNumber(maxCallsVariable, calls.value) : undefined,
    maxCostUsd: Option.isSome(cost) ? yield* dollars(maxCostVariable, cost.value) : undefined,
    prices: { ...defaultPrices, ...set },
    pricesSet: Object.keys(set)
  }
})

/** A priced call, as the report shows it (absent values are `null`, so every call has the same fields). */
export interface Call {
  readonly test: string
  readonly seq: number
  readonly mode: Channel.CallMode
  readonly method: string
  readonly origin: string
  readonly path: string
  readonly status: number | null
  readonly durationMs: number
  readonly model: string | null
  readonly inputTokens: number | null
  readonly outputTokens: number | null
  /** `null`: no usage reported (not an LLM call), or no price for the model. */
  readonly costUsd: number | null
  /** Whether the model has a price; `null` when the call reported no usage. */
  readonly priced: boolean | null
}

/** Calls, tokens and cost of one test (or of the run). */
export interface Totals {
  readonly calls: number
  readonly live: number
  readonly recorded: number
  readonly replayed: number
  readonly inputTokens: number
  readonly outputTokens: number
  /** Dollars spent by live and recorded calls with a price. */
  readonly costUsd: number
  /** Dollars the replayed calls cost when they were recorded (not spent by this run). */
  readonly replayedUsd: number
  /** Models whose tokens could not be priced: their cost is missing from `costUsd`. */
  readonly unpricedModels: ReadonlyArray<string>
}

/** Why the run's budget failed the lane. */
export interface Exceeded extends Channel.Refusal {
  readonly test: string
  readonly request: string
  /** True when a call that was allowed turned out to cost more than the rest of the budget. */
  readonly overrun: boolean
}

/** The ledger's part of the lane's report. */
export interface Summary {
  readonly calls: ReadonlyArray<Call>
  readonly tests: ReadonlyArray<{ readonly test: string } & Totals>
  readonly total: Totals
  readonly budget: {
    readonly maxCalls: number | null
    readonly maxCostUsd: number | null
    readonly exceeded: Exceeded | null
  }
  readonly problems: ReadonlyArray<Channel.Problem>
  readonly prices: { readonly asOf: string; readonly set: ReadonlyArray<string> }
}

/** The run's ledger, in the lane's main thread. */
export interface CostLedger {
  /** The channel name the workers connect to. */
  readonly channel: string
  readonly summary: () => Summary
  /** Called once, when the budget first refuses a call or is overrun. */
  readonly onExceeded: (listener: (exceeded: Exceeded) => void) => void
}

// ---------------------------------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------------------------------

// a dollar amount without float noise: 1e-10 is far below any price
const usd = (value: number): number => Math.round(value * 1e10) / 1e10

const priced = (prices: PriceTable, r: Channel.CallRecord): Call => {
  const call: Call = {
    test: r.test,
    seq: r.seq,
    mode: r.mode,
    method: r.method,
    origin: r.origin,
    path: r.path,
    status: r.status,
    durationMs: r.durationMs,
    model: r.model ?? null,
    inputTokens: r.inputTokens ?? null,
    outputTokens: r.outputTokens ?? null,
    costUsd: null,
    priced: null
  }
  if (r.inputTokens === undefined || r.outputTokens === undefined) return call
  const price = r.model === undefined ? undefined : priceFor(prices, r.model)
  return price === undefined
    ? { ...call, priced: false }
    : { ...call, costUsd: usd(costOf(price, { inputTokens: r.inputTokens, outputTokens: r.outputTokens })), priced: true }
}

const isSpent = (call: Call): boolean => call.mode !== "replayed"
const endpoint = (call: { readonly origin: string; readonly path: string }): string => `${call.origin}${call.path}`
const display = (call: Channel.CallRequest): string => `${call.method} ${call.origin}${call.path}`

/** The budget's decision on one call, given what was spent and what is in flight. */
const decide = (
  s: Settings,
  calls: ReadonlyArray<Call>,
  inFlight: ReadonlyMap<string, { readonly projected: number }>,
  call: Channel.CallRequest
): Channel.Refusal | number => {
  const spent = calls.filter(isSpent)
  const spentUsd = usd(spent.reduce((sum, c) => sum + (c.costUsd ?? 0), 0))
  const refuse = (reason: Channel.RefusalReason, setting: string, limit: number, model?: string): Channel.Refusal => ({
    reason,
    setting,
    limit: String(limit),
    spentCalls: spent.length + inFlight.size,
    spentUsd,
    model
  })
  if (s.maxCalls !== undefined && spent.length + inFlight.size + 1 > s.maxCalls) return refuse("max-calls", maxCallsVariable, s.maxCalls)
  if (s.maxCostUsd === undefined) return 0
  const unpriced = spent.find((c) => c.priced === false)
  if (unpriced !== undefined) return refuse("price-unknown", maxCostVariable, s.maxCostUsd, unpriced.model ?? undefined)
  if (call.model !== undefined && priceFor(s.prices, call.model) === undefined) {
    return refuse("price-unknown", maxCostVariable, s.maxCostUsd, call.model)
  }
  // a call costs about what the dearest call to the same endpoint and model cost so far
  const alike = spent.filter((c) => endpoint(c) === endpoint(call) && (call.model === undefined || c.model?.startsWith(call.model)))
  const isLlm = call.model !== undefined || alike.some((c) => c.priced !== null)
  if (!isLlm) return 0
  const projected = Math.max(0, ...alike.map((c) => c.costUsd ?? 0))
  const committed = spentUsd + [...inFlight.values()].reduce((sum, f) => sum + f.projected, 0)
  return committed + projected >= s.maxCostUsd ? refuse("max-cost", maxCostVariable, s.maxCostUsd) : projected
}

/**
 * After a call was sent: whether the run went over its budget (a call the ledger was not asked about,
 * a call dearer than projected, a model without a price while a cost budget is set).
 */
const overrunOf = (s: Settings, calls: ReadonlyArray<Call>, call: Call, reserved: boolean): Exceeded | undefined => {
  if (!isSpent(call)) return undefined
  const spent = calls.filter(isSpent)
  const base = {
    test: call.test,
    request: display({ ...call, model: undefined }),
    overrun: true,
    spentCalls: spent.length,
    spentUsd: usd(spent.reduce((sum, c) => sum + (c.costUsd ?? 0), 0)),
    model: undefined
  }
  // a call the ledger was not asked about (node:http) can only be counted after the fact
  if (!reserved && s.maxCalls !== undefined && spent.length > s.maxCalls) {
    return { ...base, reason: "max-calls", setting: maxCallsVariable, limit: String(s.maxCalls) }
  }
  if (s.maxCostUsd === undefined) return undefined
  if (call.priced === false) {
    return { ...base, reason: "price-unknown", setting: maxCostVariable, limit: String(s.maxCostUsd), model: call.model ?? undefined }
  }
  return base.spentUsd > s.maxCostUsd
    ? { ...base, reason: "max-cost", setting: maxCostVariable, limit: String(s.maxCostUsd) }
    : undefined
}

const zero: Totals = {
  calls: 0, live: 0, recorded: 0, replayed: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, replayedUsd: 0, unpricedModels: []
}

const add = (totals: Totals, call: Call): Totals => ({
  calls: totals.calls + 1,
  live: totals.live + (call.mode === "live" ? 1 : 0),
  recorded: totals.recorded + (call.mode === "recorded" ? 1 : 0),
  replayed: totals.replayed + (call.mode === "replayed" ? 1 : 0),
  inputTokens: totals.inputTokens + (call.inputTokens ?? 0),
  outputTokens: totals.outputTokens + (call.outputTokens ?? 0),
  costUsd: usd(totals.costUsd + (isSpent(call) ? call.costUsd ?? 0 : 0)),
  replayedUsd: usd(totals.replayedUsd + (isSpent(call) ? 0 : call.costUsd ?? 0)),
  unpricedModels: call.priced === false && !totals.unpricedModels.includes(call.model ?? "?")
    ? [...totals.unpricedModels, call.model ?? "?"].sort()
    : totals.unpricedModels
})

const byName = <A extends { readonly test: string }>(a: A, b: A): number => a.test < b.test ? -1 : a.test > b.test ? 1 : 0

/** Starts the run's ledger on a fresh channel; it stops listening when the scope closes. */
export const make = (s: Settings): Effect.Effect<CostLedger, never, Scope.Scope> =>
  Effect.gen(function*() {
    const name = `workflow-live/ledger/${process.pid}/${randomUUID()}`
    const calls: Array<Call> = []
    const problems: Array<Channel.Problem> = []
    const inFlight = new Map<string, { readonly projected: number; readonly call: Channel.CallRequest }>()
    const listeners: Array<(exceeded: Exceeded) => void> = []
    let exceeded: Exceeded | null = null
    const exceed = (value: Exceeded): void => {
      if (exceeded !== null) return
      exceeded = value
      for (const listener of listeners) listener(value)
    }
    const overrun = (call: Call, reserved: boolean): void => {
      const found = overrunOf(s, calls, call, reserved)
      if (found !== undefined) exceed(found)
    }
    const onMessage = (message: Channel.ToLedger, answer: (reply: Channel.FromLedger) => void): void => {
      switch (message.kind) {
        case "reserve": {
          const decision = decide(s, calls, inFlight, message.call)
          if (typeof decision === "number") {
            inFlight.set(message.id, { projected: decision, call: message.call })
            return answer({ kind: "reserved", id: message.id })
          }
          exceed({ ...decision, test: message.call.test, request: display(message.call), overrun: false })
          return answer({ kind: "refused", id: message.id, refusal: decision })
        }
        case "settle": {
          if (message.id !== undefined) inFlight.delete(message.id)
          const call = priced(s.prices, message.call)
          calls.push(call)
          return overrun(call, message.id !== undefined)
        }
        case "problem":
          return void problems.push(message.problem)
        case "flush":
          return answer({ kind: "flushed", id: message.id })
      }
    }
    const channel = yield* Effect.acquireRelease(
      Effect.sync(() => Channel.listen(name, onMessage)),
      (channel) => Effect.sync(() => channel.close())
    )
    void channel
    const summary = (): Summary => {
      const sorted = [...calls].sort((a, b) => byName(a, b) || a.seq - b.seq)
      const tests = new Map<string, Totals>()
      for (const call of sorted) tests.set(call.test, add(tests.get(call.test) ?? zero, call))
      return {
        calls: sorted,
        tests: [...tests].map(([test, totals]) => ({ test, ...totals })),
        total: sorted.reduce(add, zero),
        budget: { maxCalls: s.maxCalls ?? null, maxCostUsd: s.maxCostUsd ?? null, exceeded },
        problems: [...problems].sort((a, b) => byName(a, b) || (a.message < b.message ? -1 : 1)),
        prices: { asOf: defaultPricesAsOf, set: s.pricesSet }
      }
    }
    return { channel: name, summary, onExceeded: (listener) => void listeners.push(listener) }
  })

// ---------------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------------

// 12,345: toLocaleString would load ICU's locale data on first use (~9 ms of every lane's report)
const grouped = (n: number): string => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",")

const tokens = (t: Totals): string => `${grouped(t.inputTokens + t.outputTokens)} tokens`

const cost = (t: Totals): string =>
  `${t.unpricedModels.length > 0 ? "at least " : ""}${formatUsd(t.costUsd)}` +
  (t.unpricedModels.length > 0 ? ` (price unknown: ${t.unpricedModels.join(", ")})` : "")

const modes = (t: Totals): string =>
  [t.live > 0 ? `${t.live} live` : "", t.recorded > 0 ? `${t.recorded} recorded` : "", t.replayed > 0 ? `${t.replayed} replayed` : ""]
    .filter((s) => s !== "").join(", ") || "none"

const budgetText = (summary: Summary): string => {
  const { budget } = summary
  const limits = [
    budget.maxCalls === null ? "" : `${budget.maxCalls} call(s)`,
    budget.maxCostUsd === null ? "" : `$${budget.maxCostUsd}`
  ].filter((s) => s !== "").join(" / ")
  if (limits === "") return "no budget"
  if (budget.exceeded === null) return `budget ${limits}: within`
  const e = budget.exceeded
  return `budget ${limits}: EXCEEDED (${e.reason}) at ${e.request} in "${e.test}"` +
    (e.overrun ? " (the call was sent)" : " (not sent)")
}

/** One line for the terminal summary: calls, tokens, estimated cost, budget. */
export const render = (summary: Summary): string => {
  const t = summary.total
  const replayed = t.replayed > 0 ? `, recorded cost of the replayed calls ${formatUsd(t.replayedUsd)}` : ""
  return `external calls: ${t.calls} (${modes(t)}), ${tokens(t)}, estimated cost ${cost(t)}${replayed}; ${budgetText(summary)}`
}

const cell = (text: string): string => text.replace(/\|/g, "\\|")

/** The cost table for summary.md and $GITHUB_STEP_SUMMARY. */
export const renderMarkdown = (summary: Summary): string => {
  const row = (name: string, t: Totals): string =>
    `| ${cell(name)} | ${t.calls} | ${modes(t)} | ${grouped(t.inputTokens)} | ` +
    `${grouped(t.outputTokens)} | ${cell(cost(t))} |`
  return [
    "#### External calls and cost",
    "",
    "| test | calls | answered | input tokens | output tokens | estimated cost |",
    "|---|---|---|---|---|---|",
    ...summary.tests.map((t) => row(t.test, t)),
    row("**total**", summary.total),
    "",
    `${budgetText(summary).replace(/^./, (c) => c.toUpperCase())}. Prices: defaults as of ${summary.prices.asOf}` +
    (summary.prices.set.length > 0 ? `, set by ${pricesVariable}: ${summary.prices.set.join(", ")}` : "") +
    (summary.total.replayed > 0 ? `. Replayed calls spend nothing (recorded cost ${formatUsd(summary.total.replayedUsd)}).` : "."),
    ...(summary.problems.length === 0 ? [] : ["", ...summary.problems.map((p) => `- **${cell(p.test)}**: ${p.reason}`)]),
    ""
  ].join("\n")
}
