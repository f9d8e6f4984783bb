/**
 * The unit lane's wall time, beside bare Vitest running one trivial test (its floor: Vitest's own start)
 * and beside the same lane with Vitest's default isolation (every file re-imports the Effect graph). Whole
 * processes, as a developer runs them: `npx mise run test` (the target: under 5 s), the Vitest command it
 * runs, and the two references. Rounds rotate the order; medians.
 *
 *   node --import tsx bench/unit.bench.ts [rounds]      (default 5)
 */
import { spawnSync } from "node:child_process"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 5)

const variants = [
  { name: "npx mise run test", command: "npx", args: ["mise", "run", "test"] },
  { name: "vitest run --project unit", command: "node_modules/.bin/vitest", args: ["run", "--project", "unit"] },
  {
    name: "the same, isolated (Vitest's default)",
    command: "node_modules/.bin/vitest",
    args: ["run", "--project", "unit", "--poolOptions.threads.isolate=true"]
  },
  { name: "bare Vitest, one trivial test", command: "node_modules/.bin/vitest", args: ["run", "--config", "bench/trivial.vitest.config.ts"] }
] as const

const timeOnce = (variant: typeof variants[number]): number => {
  const started = performance.now()
  const result = spawnSync(variant.command, [...variant.args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1", MISE_YES: "1" } })
  const ms = performance.now() - started
  if (result.status !== 0) {
    throw new Error(`${variant.name} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`)
  }
  return ms
}

const samples = new Map<string, Array<number>>(variants.map((v) => [v.name, []]))
timeOnce(variants[1]) // warm the file system cache; not measured
for (let round = 0; round < rounds; round++) {
  const order = variants.map((_, i) => variants[(i + round) % variants.length]!)
  for (const variant of order) samples.get(variant.name)!.push(timeOnce(variant))
}

const medianOf = (name: string): number => median(samples.get(name)!)
console.log(`unit lane wall time, median of ${rounds} rounds (order rotated):`)
for (const variant of variants) {
  const values = samples.get(variant.name)!.map((v) => Math.round(v))
  console.log(`  ${variant.name.padEnd(40)} ${String(Math.round(medianOf(variant.name))).padStart(6)} ms   [${values.join(", ")}]`)
}
const bare = medianOf("bare Vitest, one trivial test")
emit({ bench: "unit", metric: "npx mise run test, wall", value: medianOf("npx mise run test"), unit: "ms", max: 5000 })
emit({ bench: "unit", metric: "vitest run --project unit, wall", value: medianOf("vitest run --project unit"), unit: "ms", max: 5000 })
emit({ bench: "unit", metric: "bare Vitest with one trivial test, wall", value: bare, unit: "ms" })
emit({ bench: "unit", metric: "unit lane over bare Vitest", value: medianOf("vitest run --project unit") / bare, unit: "x" })
emit({
  bench: "unit",
  metric: "isolated unit lane over the lane as configured",
  value: medianOf("the same, isolated (Vitest's default)") / medianOf("vitest run --project unit"),
  unit: "x"
})
