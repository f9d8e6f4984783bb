/**
 * The lane's own overhead: `workflow-live run` (node bin/workflow-live.js run, what `mise run
 * test-workflow-live` execs) on a one-test suite against the same test run by plain Vitest
 * (node_modules/.bin/vitest, no guard, preflight or reset) on the database the lane just prepared, in
 * alternating order. Overhead = lane - plain, the reset included. Target: <= 300 ms. Also how much of the
 * lane's wall time its report's phases cover (the rest: exec before Node's time origin, and the exit after
 * the report is written). Writes the lane section of docs/performance.md.
 * Runnable alone: `node --import tsx bench/lane.bench.ts [rounds]`.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type * as LaneReport from "../src/LaneReport.js"
import * as StandIns from "../src/StandIns.js"
import { emit, median, writeSection } from "./report.js"

const rounds = Number(process.argv[2] ?? 7)
const oneTest = "test/workflow_live/smoke.test.ts"
const dsn = "postgres://postgres@127.0.0.1:5432/tenderbot_workflow_test"
const dir = mkdtempSync(join(tmpdir(), "wl-bench-lane-"))

// async, not spawnSync: the stand-ins in this process must keep answering while the lane runs
const timed = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> =>
  new Promise((resolve, reject) => {
    const start = performance.now()
    let output = ""
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("close", (code) => {
      const ms = performance.now() - start
      if (code === 0) resolve(ms)
      else reject(new Error(`${command} ${args.join(" ")} exited ${code}:\n${output}`))
    })
  })

const ms = (value: number): string => `${value.toFixed(0)} ms`

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const standIns = yield* StandIns.make()
  const env = { ...process.env, ...standIns.env, TENDERBOT_WORKFLOW_DB_DSN: dsn, NO_COLOR: "1", CI: "true" }
  const runLane = async (i: number) => {
    const reportDir = join(dir, `round-${i}`)
    const wall = await timed(process.execPath, ["bin/workflow-live.js", "run", "--", oneTest], { ...env, WORKFLOW_LIVE_REPORT_DIR: reportDir })
    return { wall, report: JSON.parse(readFileSync(join(reportDir, "report.json"), "utf8")) as LaneReport.Report }
  }
  const runPlain = () => timed("node_modules/.bin/vitest", ["run", "--config", "bench/plain.vitest.config.ts", oneTest], env)
  // untimed: builds the bundle if a source changed, makes the template, warms the caches of both
  yield* Effect.promise(() => runLane(-1))
  yield* Effect.promise(runPlain)
  const lane: Array<number> = []
  const plain: Array<number> = []
  const outside: Array<number> = []
  const phases: Record<string, Array<number>> = {}
  for (let i = 0; i < rounds; i++) {
    // alternate which runs first: neither always runs right after the other
    const steps = [
      async () => {
        const { report, wall } = await runLane(i)
        lane.push(wall)
        outside.push(wall - report.durationMs)
        for (const p of report.phases) (phases[p.name] ??= []).push(p.ms)
      },
      async () => void plain.push(await runPlain())
    ]
    for (const step of i % 2 === 0 ? steps : [...steps].reverse()) yield* Effect.promise(step)
  }
  const m = { lane: median(lane), plain: median(plain), outside: median(outside) }
  const overhead = m.lane - m.plain
  const lines = [
    `| what | median of ${rounds} |`,
    "|---|---|",
    `| \`workflow-live run\`, 1 test, reset included | ${ms(m.lane)} |`,
    `| plain \`vitest run\`, the same test, database already prepared | ${ms(m.plain)} |`,
    `| **lane overhead** (target <= 300 ms) | **${ms(overhead)}** |`,
    ...Object.entries(phases).map(([name, values]) => `| phase \`${name}\` | ${ms(median(values))} |`),
    `| outside every phase (exec before Node's time origin; exit after the report is written) | ${ms(m.outside)} |`
  ]
  console.log(`rounds: ${rounds} (medians)`)
  console.log(lines.join("\n"))
  emit({ bench: "lane", metric: "lane - plain vitest, reset included (1-test suite)", value: overhead, unit: "ms", max: 300 })
  emit({ bench: "lane", metric: "lane / plain vitest (1-test suite)", value: m.lane / m.plain, unit: "x" })
  emit({ bench: "lane", metric: "lane wall time outside the report's phases", value: m.outside, unit: "ms" })
  writeSection(
    "docs/performance.md",
    "lane",
    "bench/lane.bench.ts",
    `Measured by \`mise run bench lane\` (${rounds} rounds, alternating, medians, ${new Date().toISOString().slice(0, 10)}), ` +
      "a one-test suite against local stand-ins, on a private PostgreSQL 15:\n\n" + lines.join("\n")
  )
})))
rmSync(dir, { recursive: true, force: true })
