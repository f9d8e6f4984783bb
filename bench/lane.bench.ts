/**
 * The lane's own overhead: `mise run test-workflow-live` on a one-test suite against the same test run by
 * plain Vitest (no guard, preflight or reset) on an already prepared database, in the same run. The reset
 * is reported separately (its own bench is reset.bench.ts): overhead = lane - plain - reset.
 * Target: overhead <= 2 s. Runnable alone: `node --import tsx bench/lane.bench.ts [rounds]`.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as StandIns from "../src/StandIns.js"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 3)
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

await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const standIns = yield* StandIns.make()
  const env = { ...process.env, ...standIns.env, TENDERBOT_WORKFLOW_DB_DSN: dsn, NO_COLOR: "1", CI: "true" }
  const lane: Array<number> = []
  const plain: Array<number> = []
  const reset: Array<number> = []
  const phases: Record<string, Array<number>> = {}
  for (let i = 0; i < rounds; i++) {
    const reportDir = join(dir, `round-${i}`)
    lane.push(yield* Effect.promise(() =>
      timed("node_modules/.bin/mise", ["run", "test-workflow-live", "--", oneTest], {
        ...env,
        WORKFLOW_LIVE_REPORT_DIR: reportDir
      })
    ))
    const report = JSON.parse(readFileSync(join(reportDir, "report.json"), "utf8")) as {
      phases: ReadonlyArray<{ name: string; ms: number }>
    }
    for (const p of report.phases) (phases[p.name] ??= []).push(p.ms)
    reset.push(report.phases.find((p) => p.name === "reset")?.ms ?? 0)
    // the database the lane just reset is the "already prepared" one
    plain.push(yield* Effect.promise(() =>
      timed("node_modules/.bin/vitest", ["run", "--config", "bench/plain.vitest.config.ts", oneTest], env)
    ))
  }
  const m = { lane: median(lane), plain: median(plain), reset: median(reset) }
  const overhead = m.lane - m.plain - m.reset
  console.log(`rounds: ${rounds} (medians)`)
  console.log(`  mise run test-workflow-live (1 test):   ${m.lane.toFixed(0)} ms`)
  for (const [name, values] of Object.entries(phases)) console.log(`    phase ${name.padEnd(11)} ${median(values).toFixed(0).padStart(6)} ms`)
  console.log(`  plain vitest, prepared database:        ${m.plain.toFixed(0)} ms`)
  console.log(`  overhead beyond the reset:              ${overhead.toFixed(0)} ms  (target <= 2000 ms)`)
  emit({ bench: "lane", metric: "lane - plain vitest - reset (1-test suite)", value: overhead, unit: "ms", max: 2000 })
  emit({ bench: "lane", metric: "lane / plain vitest (1-test suite)", value: m.lane / m.plain, unit: "x" })
})))
rmSync(dir, { recursive: true, force: true })
