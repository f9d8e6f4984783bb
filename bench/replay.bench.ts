/**
 * Replay vs live for the sample suite (test/workflow_live/tender-alert.test.ts), through the real lane
 * (`node bin/workflow-live.js run`) against 127.0.0.1:5432 and the local stand-ins: one untimed record,
 * then rounds of live (stand-ins that answer at once), live with a model-like LLM latency, and replay,
 * in rotating order. Then it writes the cost section of docs/performance.md from the live run's ledger,
 * so the documented numbers are a real run's.
 * Runnable alone: `node --import tsx bench/replay.bench.ts [rounds] [LLM latency ms]`.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as CostLedger from "../src/CostLedger.js"
import type * as LaneReport from "../src/LaneReport.js"
import * as StandIns from "../src/StandIns.js"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 3)
const latencyMs = Number(process.argv[3] ?? 800)
const suite = "test/workflow_live/tender-alert.test.ts"
const dsn = "postgres://postgres@127.0.0.1:5432/tenderbot_workflow_test"
const dir = mkdtempSync(join(tmpdir(), "wl-bench-replay-"))
const cassettes = join(dir, "cassettes")
const docs = "docs/performance.md"

type Mode = "live" | "live, slow LLM" | "replay"

/** One lane run: wall time and its report. */
const lane = (name: string, http: string, env: Record<string, string>): Promise<{ ms: number; report: LaneReport.Report }> =>
  new Promise((resolve, reject) => {
    const reportDir = join(dir, name)
    const apis = ["TENDERBOT_LLM_BASE_URL", "TENDERBOT_LLM_API_KEY", "TENDERBOT_TENDERS_API_URL"]
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !apis.includes(k) && !k.startsWith("WORKFLOW_LIVE_")))
    const start = performance.now()
    let output = ""
    const child = spawn(process.execPath, ["bin/workflow-live.js", "run", `--http=${http}`, "--report-dir", reportDir, "--", suite], {
      env: { ...base, TENDERBOT_WORKFLOW_DB_DSN: dsn, WORKFLOW_LIVE_CASSETTES: cassettes, NO_COLOR: "1", CI: "true", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("close", (code) => {
      const ms = performance.now() - start
      if (code !== 0) return reject(new Error(`lane ${name} (--http=${http}) exited ${code}:\n${output}`))
      resolve({ ms, report: JSON.parse(readFileSync(join(reportDir, "report.json"), "utf8")) as LaneReport.Report })
    })
  })

// the test itself, without Vitest's start: where the external calls' time goes
const testTime = (report: LaneReport.Report): number =>
  (report.tests?.cases ?? []).reduce((sum, c) => sum + c.durationMs, 0)

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

/** The cost section of docs/performance.md, from the live run's ledger and the medians. */
const costSection = (live: LaneReport.Report, times: Record<Mode, { lane: number; tests: number }>): string => {
  const cost = live.cost!
  const total = cost.total
  const llm = cost.calls.filter((c) => c.inputTokens !== null)
  const models = [...new Set(llm.map((c) => c.model ?? "?"))]
  const prices = models.map((m) => {
    const price = CostLedger.defaultPrices[m]
    return price === undefined ? `${m}: price unknown` : `${m}: $${price.input} / $${price.output} per 1M input / output tokens`
  })
  const row = (mode: Mode, calls: string, spent: string) =>
    `| ${mode} | ${seconds(times[mode].lane)} | ${Math.round(times[mode].tests)} ms | ${calls} | ${spent} |`
  return [
    `The sample suite (\`${suite}\`, one test) makes ${total.calls} external calls per run: ` +
    `${cost.calls.length - llm.length} to the tender source API and ${llm.length} LLM chat completions ` +
    `(${total.inputTokens} input and ${total.outputTokens} output tokens). At the default prices (${prices.join("; ")}, ` +
    `as of ${cost.prices.asOf}) a live run costs ${CostLedger.formatUsd(total.costUsd)}, 30 nightly runs a month ` +
    `${CostLedger.formatUsd(total.costUsd * 30)}; sharding adds runners, not calls. A replay costs nothing.`,
    "",
    `Measured by \`mise run bench\` (bench/replay.bench.ts, ${rounds} rounds, medians, ${new Date().toISOString().slice(0, 10)}), ` +
    `the whole lane against the local stand-ins; "slow LLM" answers each completion after ${latencyMs} ms, as a small ` +
    `hosted model does. The whole lane is mostly Vitest's and the reset's fixed cost (and drifts with the machine's ` +
    `load); the test's own time is where the calls go:`,
    "",
    "| mode | whole lane (wall) | the test itself | external calls | spent |",
    "|---|---|---|---|---|",
    row("live", `${total.calls} live`, CostLedger.formatUsd(total.costUsd)),
    row("live, slow LLM", `${total.calls} live`, CostLedger.formatUsd(total.costUsd)),
    row("replay", `0 live, ${total.calls} replayed`, "$0"),
    "",
    "The ledger of the live run, as the lane's summary shows it:",
    "",
    CostLedger.renderMarkdown(cost).replace(/^#### .*\n\n/, "").trimEnd(),
    "",
    "Token counts come from the stand-in LLM (about 4 characters a token, OpenAI's rule of thumb); a real " +
    "model's tokenizer counts differently, and the lane reports whatever the API says."
  ].join("\n")
}

const begin = "<!-- cost: generated by bench/replay.bench.ts from a real run; edit the bench, not this text -->"
const end = "<!-- cost: end -->"

const writeDocs = (section: string): void => {
  const text = readFileSync(docs, "utf8")
  const [before, rest] = [text.slice(0, text.indexOf(begin)), text.slice(text.indexOf(end) + end.length)]
  if (!text.includes(begin) || !text.includes(end)) throw new Error(`${docs} has no generated cost section (${begin} … ${end})`)
  writeFileSync(docs, `${before}${begin}\n${section}\n${end}${rest}`)
}

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const fast = yield* StandIns.make()
  const slow = yield* StandIns.make({ llmLatencyMs: latencyMs })
  yield* Effect.promise(() => lane("record", "record", fast.env))
  const samples: Record<Mode, { lane: Array<number>; tests: Array<number> }> = {
    "live": { lane: [], tests: [] },
    "live, slow LLM": { lane: [], tests: [] },
    "replay": { lane: [], tests: [] }
  }
  const runs: Record<Mode, () => Promise<{ ms: number; report: LaneReport.Report }>> = {
    "live": () => lane("live", "live", fast.env),
    "live, slow LLM": () => lane("slow", "live", slow.env),
    "replay": () => lane("replay", "replay", {})
  }
  let lastLive: LaneReport.Report | undefined
  const order: Array<Mode> = ["live", "live, slow LLM", "replay"]
  for (let i = 0; i < rounds; i++) {
    // rotate the order: no mode always runs right after the same other one
    for (const mode of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
      const { ms, report } = yield* Effect.promise(runs[mode])
      samples[mode].lane.push(ms)
      samples[mode].tests.push(testTime(report))
      if (mode === "live") lastLive = report
    }
  }
  const m = Object.fromEntries(
    Object.entries(samples).map(([mode, s]) => [mode, { lane: median(s.lane), tests: median(s.tests) }])
  ) as Record<Mode, { lane: number; tests: number }>
  console.log(`rounds: ${rounds} (medians), LLM latency of the slow stand-in: ${latencyMs} ms`)
  for (const mode of order) {
    console.log(`  ${mode.padEnd(16)} lane ${seconds(m[mode].lane).padStart(8)}   the test ${Math.round(m[mode].tests).toString().padStart(6)} ms`)
  }
  emit({ bench: "replay", metric: "the test: replay / live (stand-ins answer at once)", value: m.replay.tests / m.live.tests, unit: "x" })
  emit({ bench: "replay", metric: `the test: replay / live (LLM answers in ${latencyMs} ms)`, value: m.replay.tests / m["live, slow LLM"].tests, unit: "x", max: 1 })
  emit({ bench: "replay", metric: `whole lane: replay / live (LLM answers in ${latencyMs} ms)`, value: m.replay.lane / m["live, slow LLM"].lane, unit: "x" })
  writeDocs(costSection(lastLive!, m))
  console.log(`  wrote the cost section of ${docs}`)
})))
rmSync(dir, { recursive: true, force: true })
