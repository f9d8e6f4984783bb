/** `mise run bench`: runs every bench/*.bench.ts in turn and prints one table of their ratios. */
import { spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import type { BenchResult } from "./report.js"

const only = process.argv.slice(2)
const files = readdirSync("bench")
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()

const results: Array<BenchResult> = []
let failures = 0
for (const file of files) {
  console.log(`\n=== bench/${file}`)
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", `bench/${file}`], { stdio: ["ignore", "pipe", "inherit"] })
    let buffer = ""
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      let nl: number
      while ((nl = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (line.startsWith("BENCH ")) results.push(JSON.parse(line.slice(6)) as BenchResult)
        else process.stdout.write(`${line}\n`)
      }
    })
    child.on("close", (c) => resolve(c ?? 1))
  })
  if (code !== 0) {
    failures++
    console.log(`bench/${file} exited with ${code}`)
  }
}

const fmt = (r: BenchResult): string =>
  r.unit === "x" ? `${r.value.toFixed(2)}x` : r.unit === "ms" ? `${r.value.toFixed(0)} ms` : `${r.value}`
console.log("\n=== summary")
console.log(`${"bench".padEnd(12)} ${"metric".padEnd(58)} ${"value".padStart(10)} ${"target".padStart(10)}  ok`)
for (const r of results) {
  const target = r.max === undefined ? "" : r.unit === "x" ? `<= ${r.max}x` : `<= ${r.max}`
  const ok = r.max === undefined ? "" : r.value <= r.max ? "yes" : "NO"
  console.log(`${r.bench.padEnd(12)} ${r.metric.padEnd(58)} ${fmt(r).padStart(10)} ${target.padStart(10)}  ${ok}`)
}
// a missed target is a finding to report, not a crash: only a bench that could not run fails the task
process.exitCode = failures === 0 ? 0 : 1
