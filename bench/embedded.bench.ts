/**
 * The throwaway server's start, ready to accept connections: from the cached initialised data directory
 * (what every start after the first does) against a start that runs initdb (a fresh cache: a new TMPDIR),
 * and what a DROP DATABASE costs on it with durability off. Needs no PostgreSQL of its own.
 *
 *   node --import tsx bench/embedded.bench.ts [rounds]      (default 5)
 */
import { Effect, Redacted } from "effect"
import { chmodSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import * as EmbeddedPostgres from "../src/internal/embeddedPostgres.js"
import { emit, median } from "./report.js"

const rounds = Number(process.argv[2] ?? 5)
const baseTmp = tmpdir()

/** Starts a server (in `tmp` if given), times it to ready, then times a CREATE + DROP DATABASE on it. */
const startOnce = (tmp?: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    if (tmp !== undefined) process.env.TMPDIR = tmp
    const started = performance.now()
    const server = yield* EmbeddedPostgres.make({ authMethod: "trust" })
    const ready = performance.now() - started
    process.env.TMPDIR = baseTmp
    const drop = yield* Effect.promise(async () => {
      const client = new pg.Client({ connectionString: Redacted.value(server.dsn("postgres")) })
      await client.connect()
      await client.query("CREATE DATABASE bench_drop")
      const t = performance.now()
      await client.query("DROP DATABASE bench_drop")
      const ms = performance.now() - t
      await client.end()
      return ms
    })
    return { ready, drop, initialised: server.initialised }
  })))

await startOnce() // the cache exists from here on
const cached: Array<number> = []
const fresh: Array<number> = []
const drops: Array<number> = []
for (let round = 0; round < rounds; round++) {
  const a = await startOnce()
  if (a.initialised !== "cached") throw new Error("expected a start from the cache")
  cached.push(a.ready)
  drops.push(a.drop)
  const dir = mkdtempSync(join(baseTmp, "wl-bench-fresh-"))
  chmodSync(dir, 0o755) // as root, the server's user must be able to enter it
  try {
    const b = await startOnce(dir)
    if (b.initialised !== "initdb") throw new Error("expected a start that runs initdb")
    fresh.push(b.ready)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const show = (values: ReadonlyArray<number>) => values.map((v) => Math.round(v)).join(", ")
console.log(`throwaway server, ready to accept connections (median of ${rounds}):`)
console.log(`  from the cached data directory  ${Math.round(median(cached))} ms   [${show(cached)}]`)
console.log(`  running initdb                  ${Math.round(median(fresh))} ms   [${show(fresh)}]`)
console.log(`  DROP DATABASE, durability off   ${Math.round(median(drops))} ms   [${show(drops)}]`)
emit({ bench: "embedded", metric: "start from the cached data directory", value: median(cached), unit: "ms" })
emit({ bench: "embedded", metric: "start running initdb", value: median(fresh), unit: "ms" })
emit({ bench: "embedded", metric: "cached start over initdb start", value: median(cached) / median(fresh), unit: "x", max: 1 })
emit({ bench: "embedded", metric: "DROP DATABASE with durability off", value: median(drops), unit: "ms" })
