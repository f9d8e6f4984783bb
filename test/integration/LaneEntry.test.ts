/**
 * The lane's front doors, as a user meets them: `workflow-live target`, the `workflow-live` Vitest
 * project started directly (its global setup is the entry check), and the mise task. Each runs as a real
 * subprocess with a real environment. The DSNs point at a TCP listener of this file's own, which records
 * every connection: a refused DSN must leave it untouched.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "../support/cli.js"

const VAR = "TENDERBOT_WORKFLOW_DB_DSN"
const W = "tenderbot_workflow_test"
const SECRET = "SECRET"

type Outcome = Cli.Outcome

let listener: Server
let port = 0
let connections = 0
const sockets = new Set<Socket>()
let reportDir = ""

beforeAll(async () => {
  // a stand-in for PostgreSQL that only counts: any connection here means a check ran too late
  listener = createServer((socket) => {
    connections++
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.destroy()
  })
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve))
  port = (listener.address() as { port: number }).port
  reportDir = mkdtempSync(join(tmpdir(), "wl-it-lane-entry-"))
})

afterAll(async () => {
  for (const socket of sockets) socket.destroy()
  await new Promise<void>((resolve) => listener.close(() => resolve()))
  rmSync(reportDir, { recursive: true, force: true })
})

/** The caller's environment without anything the lane reads, plus `env`. */
const cleanEnv = (env: Record<string, string>): NodeJS.ProcessEnv => {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([key]) =>
      !/^(TENDERBOT_|PG|WORKFLOW_LIVE_|VITEST|NODE_OPTIONS$|FORCE_COLOR$)/.test(key)
    )
  )
  return {
    ...base,
    NO_COLOR: "1",
    // any driver fallback would also land on the listener
    PGHOST: "127.0.0.1",
    PGPORT: String(port),
    WORKFLOW_LIVE_REPORT_DIR: reportDir,
    ...env
  }
}

const spawn = (command: string, args: ReadonlyArray<string>, env: Record<string, string>): Promise<Outcome> =>
  Cli.run(command, args, { baseEnv: cleanEnv(env), timeoutMs: 60_000 })

const target = (env: Record<string, string>) => spawn("node", ["bin/workflow-live.js", "target"], env)
const lane = (env: Record<string, string>) =>
  spawn("node_modules/.bin/vitest", ["run", "--project", "workflow-live"], env)

/** Runs `jobs` at most `limit` at a time: each is a whole Node process on a 2-core machine. */
const pool = async <A>(jobs: ReadonlyArray<() => Promise<A>>, limit: number): Promise<Array<A>> => {
  const results: Array<A> = new Array(jobs.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++
      results[i] = await jobs[i]!()
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker))
  return results
}

interface Refusal {
  readonly name: string
  readonly env: (port: number) => Record<string, string>
  readonly reason: string
  /** The database the output must name (the one refused), if any. */
  readonly database?: string
}

const dsn = (path: string, p: number): string => `postgres://postgres:${SECRET}@127.0.0.1:${p}/${path}`

const refusals: ReadonlyArray<Refusal> = [
  { name: "development database", env: (p) => ({ [VAR]: dsn("tenderbot", p) }), reason: "development-database", database: "tenderbot" },
  {
    name: "unit-test database",
    env: (p) => ({ [VAR]: dsn("tenderbot_test", p) }),
    reason: "unit-test-database",
    database: "tenderbot_test"
  },
  { name: "missing DSN", env: () => ({}), reason: "missing-dsn" },
  {
    name: "missing DSN, TENDERBOT_DB_DSN set",
    env: (p) => ({ TENDERBOT_DB_DSN: dsn("tenderbot", p) }),
    reason: "missing-dsn"
  },
  { name: "server database", env: (p) => ({ [VAR]: dsn("postgres", p) }), reason: "server-database", database: "postgres" },
  {
    name: "lookalike",
    env: (p) => ({ [VAR]: dsn("tenderbot-workflow-test", p) }),
    reason: "lookalike-database",
    database: "tenderbot-workflow-test"
  },
  { name: "another database", env: (p) => ({ [VAR]: dsn("myapp", p) }), reason: "not-workflow-database", database: "myapp" },
  { name: "no database", env: (p) => ({ [VAR]: dsn("", p) }), reason: "no-database" },
  {
    name: "not a URL",
    env: (p) => ({ [VAR]: `host=127.0.0.1 port=${p} dbname=${W} password=${SECRET}` }),
    reason: "not-a-url"
  },
  {
    name: "unparseable",
    env: (p) => ({ [VAR]: `postgres://postgres:${SECRET}/x@127.0.0.1:${p}/${W}` }),
    reason: "unparseable"
  }
]

// Every reason goes through the lane (the bar). `target` shares the guard call, so it gets the
// cases whose output differs by door (missing, the password-bearing malformed ones) plus two by name.
const targetRefusals = refusals.filter((r) =>
  ["development database", "missing DSN", "missing DSN, TENDERBOT_DB_DSN set", "lookalike", "not a URL", "unparseable"]
    .includes(r.name)
)

/** What every refusal must show, whichever door it came through. */
const expectRefusal = (outcome: Outcome, refusal: Refusal): void => {
  const { output } = outcome
  expect(outcome.code, output).not.toBe(0)
  expect(outcome.code, output).not.toBeNull()
  expect(output).toContain(VAR)
  if (refusal.reason === "missing-dsn") {
    expect(output).toMatch(new RegExp(`${VAR}[^\\n]*not set|${VAR} is not set`))
  } else {
    expect(output).toContain(`refused (${refusal.reason})`)
  }
  if (refusal.name.includes("TENDERBOT_DB_DSN set")) {
    // the development DSN is noticed, and the output says why the lane does not borrow it
    expect(output).toMatch(/TENDERBOT_DB_DSN is set[^\n]*never borrows it/)
  }
  if (refusal.database !== undefined) expect(output).toContain(`\`${refusal.database}\``)
  // the fix: the variable, set to a DSN for the workflow database
  expect(output).toMatch(new RegExp(`export ${VAR}='[^']*/${W}'|export ${VAR}='socket:[^']*db=${W}`))
  expect(output).not.toContain(SECRET)
  expect(output).not.toContain("No test files found")
  expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m) // no stack trace
}

describe("workflow-live target", () => {
  let outcomes: Array<Outcome> = []

  beforeAll(async () => {
    const before = connections
    outcomes = await pool(targetRefusals.map((r) => () => target(r.env(port))), 3)
    expect(connections - before).toBe(0)
  }, 180_000)

  it.each(targetRefusals.map((r, i) => [r.name, i] as const))("refuses: %s", (_name, i) => {
    expectRefusal(outcomes[i]!, targetRefusals[i]!)
    expect(outcomes[i]!.output).toContain("REFUSED")
  })

  it("mentions TENDERBOT_DB_DSN only when it is set", () => {
    const without = outcomes[targetRefusals.findIndex((r) => r.name === "missing DSN")]!
    expect(without.output).not.toContain("TENDERBOT_DB_DSN is set")
  })

  it("accepts the workflow database, prints where it points, and connects to nothing", async () => {
    const before = connections
    const outcome = await target({ [VAR]: `postgres://lane_user:${SECRET}@127.0.0.1:${port}/${W}?sslmode=disable` })
    expect(outcome.code, outcome.output).toBe(0)
    expect(outcome.output).toContain("ACCEPTED")
    expect(outcome.output).toContain(`DSN:      postgres://lane_user:*****@127.0.0.1:${port}/${W}?sslmode=disable`)
    expect(outcome.output).toMatch(/Host:\s+127\.0\.0\.1/)
    expect(outcome.output).toMatch(new RegExp(`Port:\\s+${port}\\b`))
    expect(outcome.output).toMatch(/User:\s+lane_user/)
    expect(outcome.output).toMatch(new RegExp(`Database:\\s+${W}`))
    expect(outcome.output).not.toContain(SECRET)
    expect(connections - before).toBe(0)
  }, 60_000)
})

describe("the workflow-live project's entry check (vitest run --project workflow-live)", () => {
  let outcomes: Array<Outcome> = []
  let connected = -1

  beforeAll(async () => {
    const before = connections
    outcomes = await pool(refusals.map((r) => () => lane(r.env(port))), 3)
    connected = connections - before
  }, 300_000)

  it("opens no connection for any refused DSN", () => {
    expect(outcomes).toHaveLength(refusals.length)
    expect(connected).toBe(0)
  })

  it.each(refusals.map((r, i) => [r.name, i] as const))("refuses before any connection: %s", (_name, i) => {
    expectRefusal(outcomes[i]!, refusals[i]!)
    expect(outcomes[i]!.output).toContain("the lane did not start")
  })
})

describe("the mise task", () => {
  it("`mise run test-workflow-live` refuses the story's DSN without showing its password", async () => {
    const before = connections
    const outcome = await spawn("node_modules/.bin/mise", ["run", "test-workflow-live"], {
      [VAR]: dsn("tenderbot", port),
      MISE_YES: "1"
    })
    expectRefusal(outcome, refusals[0]!)
    expect(connections - before).toBe(0)
  }, 60_000)

  it("`mise tasks` lists the four lane tasks, each with a description", async () => {
    const outcome = await spawn("node_modules/.bin/mise", ["tasks", "--json"], {})
    expect(outcome.code, outcome.output).toBe(0)
    const tasks = JSON.parse(outcome.stdout) as Array<{ name: string; aliases: Array<string>; description: string }>
    const byName = new Map(tasks.map((task) => [task.name, task]))
    for (const name of ["test", "test-integration", "test:workflow-live", "check"]) {
      expect(byName.get(name)?.description ?? "", name).toMatch(/\w{4,}.*\w{4,}/)
    }
    expect(byName.get("test:workflow-live")?.aliases).toContain("test-workflow-live")
    expect(byName.get("test")?.description).toMatch(/unit/i)
    expect(byName.get("test-integration")?.description).toMatch(/integration/i)
    expect(byName.get("check")?.description).toMatch(/CI/)
  }, 60_000)
})

describe("plain Vitest never reaches the live lane", () => {
  const listFiles = async (args: ReadonlyArray<string>): Promise<Array<{ file: string; projectName: string }>> => {
    const outcome = await spawn("node_modules/.bin/vitest", ["list", "--filesOnly", "--json", ...args], {
      [VAR]: `postgres://postgres@127.0.0.1:${port}/${W}`
    })
    expect(outcome.code, outcome.output).toBe(0)
    return JSON.parse(outcome.stdout.slice(outcome.stdout.indexOf("["), outcome.stdout.lastIndexOf("]") + 1))
  }

  it("`vitest list` (all projects) and `--project unit` include no live file; asking by name does", async () => {
    const [all, unit, live] = await Promise.all([
      listFiles([]),
      listFiles(["--project", "unit"]),
      listFiles(["--project", "workflow-live"])
    ])
    expect(all.some((entry) => entry.file.includes("/test/unit/"))).toBe(true)
    expect(all.some((entry) => entry.file.includes("/test/integration/LaneEntry.test.ts"))).toBe(true)
    for (const entry of all) {
      expect(entry.file).not.toContain("/test/workflow_live/")
      expect(entry.projectName).not.toBe("workflow-live")
    }
    expect(unit.length).toBeGreaterThan(0)
    expect(unit.every((entry) => entry.projectName === "unit" && entry.file.includes("/test/unit/"))).toBe(true)
    // the positive control: the project exists, and holds the live files, when asked for by name
    expect(live.some((entry) => entry.file.includes("/test/workflow_live/"))).toBe(true)
  }, 60_000)
})
