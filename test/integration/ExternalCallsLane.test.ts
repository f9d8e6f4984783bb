// Record, replay and budget through the real lane (`node bin/workflow-live.js run`), on its own
// throwaway PostgreSQL (so these lanes never reset the database under another file's lanes) and the
// local API stand-ins. Every lane of this file runs in sequence, each from the state the one before left:
// record the tender-alert suite; stop the stand-ins, unset the API variables and replay it (twice, the
// reports must match); change the prompt and replay; then two budgets.
import { Effect, Exit, Redacted, Scope } from "effect"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import * as StandIns from "../../src/StandIns.js"

const dir = mkdtempSync(join(tmpdir(), "wl-external-"))
const cassettes = join(dir, "cassettes")
const key = `sk-wl-${randomUUID()}`
const scope = Effect.runSync(Scope.make())
let dsn = ""
let password = ""

beforeAll(async () => {
  const server = await Effect.runPromise(Scope.extend(EmbeddedPostgres.make(), scope))
  dsn = Redacted.value(server.dsn("tenderbot_workflow_test"))
  password = Redacted.value(server.password)
}, 120_000)

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  rmSync(dir, { recursive: true, force: true })
}, 60_000)

interface Lane {
  readonly code: number | null
  readonly output: string
  readonly report: Record<string, any>
  readonly reportDir: string
}

const apiVariables = ["TENDERBOT_LLM_BASE_URL", "TENDERBOT_LLM_API_KEY", "TENDERBOT_TENDERS_API_URL", "TENDERBOT_LLM_SYSTEM_PROMPT"]

/** Runs the lane with exactly these API variables (the test process's own are never passed on). */
const lane = (name: string, args: ReadonlyArray<string>, env: Record<string, string>): Promise<Lane> => {
  const reportDir = join(dir, name)
  mkdirSync(reportDir, { recursive: true })
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !apiVariables.includes(k) && !k.startsWith("WORKFLOW_LIVE_"))
  )
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/workflow-live.js", "run", "--report-dir", reportDir, ...args], {
      env: { ...base, NO_COLOR: "1", TENDERBOT_WORKFLOW_DB_DSN: dsn, WORKFLOW_LIVE_CASSETTES: cassettes, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("error", reject)
    child.on("close", (code) => {
      try {
        resolve({ code, output, reportDir, report: JSON.parse(readFileSync(join(reportDir, "report.json"), "utf8")) })
      } catch (error) {
        reject(new Error(`lane ${name} wrote no report (exit ${code}):\n${output}`, { cause: error }))
      }
    })
  })
}

const tenderAlert = ["--", "test/workflow_live/tender-alert.test.ts"]

/** TCP listeners on the stand-ins' ports that count every connection (and answer nothing). */
const counters = async (ports: ReadonlyArray<number>) => {
  let connections = 0
  const servers: Array<Server> = []
  for (const port of ports) {
    const server = createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => resolve())
    })
    servers.push(server)
  }
  return {
    connections: () => connections,
    close: () => Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  }
}

/** Rows in every table the workflow uses. */
const rowsLeft = async (): Promise<Record<string, number>> => {
  const client = new pg.Client({ connectionString: dsn })
  await client.connect()
  try {
    const counts: Record<string, number> = {}
    for (const table of ["customers", "alert_profiles", "tenders", "tender_matches", "notifications"]) {
      counts[table] = Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n)
    }
    return counts
  } finally {
    await client.end()
  }
}

/** Everything the lane wrote or printed, to search for secrets. */
const everything = (l: Lane): string =>
  [l.output, ...readdirSync(l.reportDir).map((f) => readFileSync(join(l.reportDir, f), "utf8"))].join("\n")

const cassetteText = (): string =>
  readdirSync(cassettes, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"))
    .join("\n")

/**
 * A report without what may differ between two runs of the same thing: times, the run ID, and the
 * server's own session identifiers in the protect line (the lock holder's backend pid, the baseline xid),
 * and what the reset found on the shared server.
 */
const comparable = (report: Record<string, any>): unknown => {
  const runId = String(report.runId)
  // it depends on the other files' lanes and resets of the same workflow database (a spare to swap in or a
  // clone, sessions ended, rows a killed lane left): the reset's status is compared, its words are not
  report = {
    ...report,
    earlier: undefined,
    phases: report.phases.map((p: Record<string, unknown>) => p.name === "reset" ? { ...p, detail: undefined } : p)
  }
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip)
    if (typeof value === "string") return value.split(runId).join("<run>").replace(/\b(pid|xid) \d+/g, "$1 <n>")
    if (typeof value !== "object" || value === null) return value
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => !["ms", "durationMs", "startedAt", "runId"].includes(k))
        .map(([k, v]) => [k, strip(v)])
    )
  }
  return strip(report)
}

const zeroRows = { customers: 0, alert_profiles: 0, tenders: 0, tender_matches: 0, notifications: 0 }

// the stand-ins' ports during the recording, where nothing may connect afterwards
let ports: ReadonlyArray<number> = []

describe("record, then replay with the stand-ins gone", () => {
  let recorded: Lane
  let firstReplay: Lane

  it("record: the tender-alert suite calls the stand-ins and writes its cassette, without the key", async () => {
    const standInScope = Effect.runSync(Scope.make())
    const standIns = await Effect.runPromise(Scope.extend(StandIns.make({ llmApiKey: key }), standInScope))
    ports = [new URL(standIns.llmBaseUrl).port, new URL(standIns.tendersApiUrl).port].map(Number)
    try {
      recorded = await lane("record", ["--http=record", ...tenderAlert], standIns.env)
    } finally {
      await Effect.runPromise(Scope.close(standInScope, Exit.void))
    }
    expect(recorded.code, recorded.output).toBe(0)
    // preflight's probes (GET /models, GET the tenders base URL) and the job's: it runs twice (2 tender
    // fetches) and summarises 2 tenders the first time
    expect(standIns.stats()).toEqual({ llm: { calls: 3, completions: 2, unauthorized: 0 }, tenders: { calls: 3 } })
    expect(recorded.report.http.mode).toBe("record")
    expect(recorded.report.http.tests).toEqual([
      expect.objectContaining({ test: expect.stringContaining("tender-alert job > matches new tenders"), live: 0, recorded: 4, replayed: 0 })
    ])
    const cassette = JSON.parse(readFileSync(join(cassettes, "test__workflow_live__tender-alert.test.ts.json"), "utf8"))
    const [interactions] = Object.values(cassette.tests) as Array<Array<{ request: { method: string; url: string } }>>
    expect(interactions!.map((i) => `${i.request.method} ${i.request.url}`).sort()).toEqual([
      "GET {TENDERBOT_TENDERS_API_URL}/tenders?since=2026-01-01T00%3A00%3A00.000Z",
      "POST {TENDERBOT_LLM_BASE_URL}/chat/completions",
      "POST {TENDERBOT_LLM_BASE_URL}/chat/completions"
    ])
    // the ledger has the stand-in's usage, priced as the model the job asked for
    expect(recorded.report.cost.total).toMatchObject({ calls: 4, recorded: 4, inputTokens: 176, outputTokens: 42 })
    expect(recorded.report.cost.total.costUsd).toBeGreaterThan(0)
    expect(recorded.output).toContain("external calls: 4 (4 recorded), 218 tokens, estimated cost $0.0000")
    for (const text of [cassetteText(), everything(recorded)]) {
      expect(text).not.toContain(key)
      expect(text).not.toContain(password)
    }
  }, 180_000)

  it("replay: green with the API variables unset and zero connections to the stand-ins' ports", async () => {
    const tcp = await counters(ports)
    try {
      firstReplay = await lane("replay", ["--http=replay", ...tenderAlert], {})
    } finally {
      await tcp.close()
    }
    expect(firstReplay.code, firstReplay.output).toBe(0)
    expect(tcp.connections()).toBe(0)
    expect(firstReplay.report.http).toMatchObject({
      mode: "replay",
      cassetteCount: 1,
      placeholders: ["TENDERBOT_LLM_BASE_URL", "TENDERBOT_TENDERS_API_URL", "TENDERBOT_LLM_API_KEY"]
    })
    expect(firstReplay.report.http.tests).toEqual([expect.objectContaining({ live: 0, recorded: 0, replayed: 4 })])
    expect(firstReplay.report.cost.total).toMatchObject({ calls: 4, replayed: 4, costUsd: 0, inputTokens: 176, outputTokens: 42 })
    const preflight = JSON.parse(readFileSync(join(firstReplay.reportDir, "preflight.json"), "utf8"))
    expect(preflight.rows.filter((r: { kind: string }) => r.kind === "http").map((r: { found: string }) => r.found)).toEqual([
      `replay: 1 cassette(s) in ${cassettes}, not probed`,
      `replay: 1 cassette(s) in ${cassettes}, not probed`
    ])
    expect(everything(firstReplay)).not.toContain(key)
  }, 180_000)

  it("replay is deterministic: a second replay's report differs only in times, run ID and server session ids", async () => {
    const second = await lane("replay", ["--http=replay", ...tenderAlert], {})
    expect(second.code, second.output).toBe(0)
    expect(second.report.runId).not.toBe(firstReplay.report.runId)
    expect(comparable(second.report)).toEqual(comparable(firstReplay.report))
  }, 180_000)

  it("a changed prompt fails its test, naming the request and the nearest recorded one", async () => {
    const changed = await lane("changed", ["--http=replay", ...tenderAlert], {
      TENDERBOT_LLM_SYSTEM_PROMPT: "Summarise the tender in German."
    })
    expect(changed.code).toBe(1)
    expect(changed.output).toContain("Replay has no recording for POST {TENDERBOT_LLM_BASE_URL}/chat/completions")
    expect(changed.output).toContain("Nearest recorded request: POST {TENDERBOT_LLM_BASE_URL}/chat/completions")
    expect(changed.output).toContain(
      `body $.messages[0].content: recorded "Summarise the tender in one sentence for a construction company.", ` +
        `sent "Summarise the tender in German."`
    )
    expect(changed.output).toContain("Fix: record it again: workflow-live run --http=record -- -t")
    expect(changed.report.outcome).toBe("failed")
    expect(changed.report.cost.problems).toEqual([
      expect.objectContaining({ reason: "no-recording", test: expect.stringContaining("tender-alert job > matches new tenders") })
    ])
  }, 180_000)
})

describe("a call around fetch (node:http)", () => {
  const escape = ["--", "--config", "test/support/external/vitest.config.ts", "test/support/external/escape.live.ts"]

  it("live: is counted in the ledger", async () => {
    const standInScope = Effect.runSync(Scope.make())
    const standIns = await Effect.runPromise(Scope.extend(StandIns.make({ llmApiKey: key }), standInScope))
    let run: Lane
    try {
      run = await lane("escape-live", escape, standIns.env)
    } finally {
      await Effect.runPromise(Scope.close(standInScope, Exit.void))
    }
    expect(run.code, run.output).toBe(0)
    expect(run.report.cost.calls).toEqual([
      expect.objectContaining({ method: "GET", origin: "{TENDERBOT_TENDERS_API_URL}", path: "/tenders", status: 200, mode: "live" })
    ])
  }, 180_000)

  it("replay: fails its test and reaches nothing", async () => {
    const [port] = ports
    const tcp = await counters([port!])
    let run: Lane
    try {
      run = await lane("escape-replay", ["--http=replay", ...escape], { TENDERBOT_TENDERS_API_URL: `http://127.0.0.1:${port}/api` })
    } finally {
      await tcp.close()
    }
    expect(tcp.connections()).toBe(0)
    expect(run.code).toBe(1)
    expect(run.output).toContain(`Replay refused a connection to 127.0.0.1:${port} (test "test/support/external/escape.live.ts > calls the tender API through node:http")`)
    expect(run.report.cost.problems).toEqual([expect.objectContaining({ reason: "escaped" })])
  }, 180_000)
})

describe("a live project in child processes (pool forks)", () => {
  it("cannot reach the run's ledger: its files fail with wrong-pool, and nothing is called", async () => {
    const standInScope = Effect.runSync(Scope.make())
    const standIns = await Effect.runPromise(Scope.extend(StandIns.make({ llmApiKey: key }), standInScope))
    let run: Lane
    try {
      run = await lane("forks", ["--", "--config", "test/support/external/vitest.forks.config.ts"], standIns.env)
    } finally {
      await Effect.runPromise(Scope.close(standInScope, Exit.void))
    }
    expect(run.code).toBe(1)
    expect(run.output).toContain("This live test file runs in another process than the lane")
    expect(run.output).toContain(`set \`pool: "threads"\``)
    // only preflight's probe reached the tender API
    expect(standIns.stats().tenders.calls).toBe(1)
  }, 180_000)
})

describe("the budget", () => {
  it("of 1 call fails the lane at the second call, which is never sent, with 0 rows left", async () => {
    const standInScope = Effect.runSync(Scope.make())
    const standIns = await Effect.runPromise(Scope.extend(StandIns.make({ llmApiKey: key }), standInScope))
    let run: Lane
    try {
      run = await lane("budget", tenderAlert, { ...standIns.env, WORKFLOW_LIVE_MAX_CALLS: "1" })
    } finally {
      await Effect.runPromise(Scope.close(standInScope, Exit.void))
    }
    expect(run.code).toBe(1)
    // besides preflight's probes: the first call (the tenders) went out; the second (the first summary) did not
    expect(standIns.stats()).toEqual({ llm: { calls: 1, completions: 0, unauthorized: 0 }, tenders: { calls: 2 } })
    expect(run.output).toContain("Budget exceeded: POST {TENDERBOT_LLM_BASE_URL}/chat/completions in test")
    expect(run.output).toContain("Spent so far: 1 call(s)")
    expect(run.output).toContain("WORKFLOW_LIVE_MAX_CALLS=1")
    expect(run.report.outcome).toBe("failed")
    expect(run.report.cost.budget).toMatchObject({
      maxCalls: 1,
      exceeded: { reason: "max-calls", request: "POST {TENDERBOT_LLM_BASE_URL}/chat/completions", overrun: false }
    })
    expect(run.report.cost.calls.map((c: { path: string }) => c.path)).toEqual(["/tenders"])
    // the failed test's own count says the same as the ledger (the recorder's hook failed it before ours ran)
    expect(run.output).toMatch(/FAILED {2}0 passed, 1 failed, 0 error\(s\), 0 skipped, 1 external call\(s\)/)
    expect(await rowsLeft()).toEqual(zeroRows)
    expect(everything(run)).not.toContain(key)
  }, 180_000)

  it("is one for the run: two files in parallel worker threads share it", async () => {
    const barrier = join(dir, "barrier")
    mkdirSync(barrier)
    const standInScope = Effect.runSync(Scope.make())
    const standIns = await Effect.runPromise(Scope.extend(StandIns.make({ llmApiKey: key }), standInScope))
    let run: Lane
    try {
      run = await lane("parallel", ["--", "--config", "test/support/external/vitest.config.ts", "test/support/external/parallel-"], {
        ...standIns.env,
        WORKFLOW_LIVE_MAX_CALLS: "3",
        WL_BARRIER_DIR: barrier
      })
    } finally {
      await Effect.runPromise(Scope.close(standInScope, Exit.void))
    }
    // 4 calls asked for, 3 allowed in total (a budget per worker would have let all 4 through), and preflight's probe
    expect(standIns.stats().tenders.calls, run.output).toBe(3 + 1)
    expect(run.code).toBe(1)
    expect(run.report.tests).toMatchObject({ passed: 1, failed: 1 })
    expect(run.report.cost.total.calls).toBe(3)
    expect(run.report.cost.tests.map((t: { test: string }) => t.test)).toEqual([
      "test/support/external/parallel-a.live.ts > sends two calls to the tender API",
      "test/support/external/parallel-b.live.ts > sends two calls to the tender API"
    ])
    expect(run.report.cost.budget.exceeded).toMatchObject({ reason: "max-calls", limit: "3", spentCalls: 3 })
  }, 180_000)
})
