/**
 * The CLI's start as a whole process, beside the process floor (`node -e 0`): `workflow-live --version`
 * (target: <= 150 ms over the floor) and `--help` (the parser and every command's definition, no command's
 * code). Interleaved, rotated each round, 11 rounds. Runnable alone: `node --import tsx bench/cli.bench.ts [rounds]`.
 */
import { spawnSync } from "node:child_process"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 11)

const variants: Record<string, ReadonlyArray<string>> = {
  "node -e 0": ["-e", "0"],
  "workflow-live --version": ["bin/workflow-live.js", "--version"],
  "workflow-live --help": ["bin/workflow-live.js", "--help"]
}
const names = Object.keys(variants)

const timed = (args: ReadonlyArray<string>): number => {
  const start = performance.now()
  const result = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
  const ms = performance.now() - start
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}: ${result.stderr.toString()}`)
  return ms
}

// untimed: builds the bundle if a source changed, warms the file cache
for (const name of names) timed(variants[name]!)
const samples: Record<string, Array<number>> = Object.fromEntries(names.map((n) => [n, []]))
for (let i = 0; i < rounds; i++) {
  for (const name of [...names.slice(i % names.length), ...names.slice(0, i % names.length)]) samples[name]!.push(timed(variants[name]!))
}
const m = Object.fromEntries(names.map((n) => [n, median(samples[n]!)]))
const floor = m["node -e 0"]!
console.log(`rounds: ${rounds} (medians)`)
for (const name of names) {
  console.log(`  ${name.padEnd(26)} ${m[name]!.toFixed(0).padStart(5)} ms   over the floor ${(m[name]! - floor).toFixed(0).padStart(5)} ms`)
}
emit({ bench: "cli", metric: "workflow-live --version over node -e 0", value: m["workflow-live --version"]! - floor, unit: "ms", max: 150 })
emit({ bench: "cli", metric: "workflow-live --help over node -e 0", value: m["workflow-live --help"]! - floor, unit: "ms" })
