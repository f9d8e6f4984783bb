/**
 * Preflight runs its checks concurrently: three HTTP dependencies that each answer after 500 ms must
 * take about one delay, not three. Prints the ratio of the three-dependency preflight to a
 * one-dependency one (target: well under 2x; sequential checks would give ~3x).
 */
import { ConfigProvider, Effect } from "effect"
import * as Preflight from "../src/Preflight.js"
import * as HttpServer from "../test/support/httpServer.js"
import { emit, median } from "./report.js"

const delayMs = 500
const rounds = 5

const servers = await Promise.all([1, 2, 3].map(() => HttpServer.start({ delayMs })))
const env = new Map(servers.map((server, i) => [`BENCH_API_${i}_URL`, server.url]))

const spec = (count: number): Preflight.Spec => ({
  env: [],
  http: servers.slice(0, count).map((_, i) => ({ name: `api${i}`, urlVariable: `BENCH_API_${i}_URL` })),
  database: undefined
})

const time = async (count: number): Promise<number> => {
  const started = performance.now()
  const report = await Effect.runPromise(
    Preflight.check({ spec: spec(count), reportDir: false }).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(env))
    )
  )
  const elapsed = performance.now() - started
  if (report.verdict !== "pass") throw new Error(Preflight.render(report, { colour: false }))
  return elapsed
}

await time(1) // warm-up: module initialisation and the first sockets
const single: Array<number> = []
const three: Array<number> = []
for (let i = 0; i < rounds; i++) {
  single.push(await time(1))
  three.push(await time(3))
}
await Promise.all(servers.map((server) => server.close()))

const ratio = median(three) / median(single)
console.log(`delay per dependency:         ${delayMs} ms`)
console.log(`preflight, 1 HTTP dependency: ${median(single).toFixed(0)} ms (median of ${rounds})`)
console.log(`preflight, 3 HTTP dependencies: ${median(three).toFixed(0)} ms (median of ${rounds})`)
console.log(`ratio 3 deps / 1 dep:         ${ratio.toFixed(2)}x (sequential would be ~3x)`)
emit({ bench: "preflight", metric: "3 HTTP deps at 500 ms each / 1 dep (concurrency)", value: ratio, unit: "x", max: 1.3 })
emit({ bench: "preflight", metric: "preflight with 3 HTTP deps at 500 ms each", value: median(three), unit: "ms" })
