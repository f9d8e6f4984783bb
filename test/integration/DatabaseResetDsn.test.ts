// The lane connects exactly where and how the DSN says, or refuses, on the real server: the session
// settings the driver honours reach every connection the lane opens (the reset's, the Migrator's, the
// suites'), a DSN that names two databases is refused before anything connects, a value that is not a
// URL is never echoed, and sslmode is the lane's own message, never the driver's warning.
import { SqlClient } from "@effect/sql"
import { Cause, Effect, Exit, Layer, Option, Redacted } from "effect"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as Migrations from "../../src/Migrations.js"
import * as Cli from "../support/cli.js"
import { dropDatabases, ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

// This file's own names; nothing else is ever dropped here.
const database = "wl_it_dsn"
const cleanup = () => dropDatabases([database], [Migrations.templatePrefix(database)])

const verify = (dsn: string, name = database) =>
  Effect.runPromise(Effect.either(DsnGuard.verify(Option.some(Redacted.make(dsn)), {}, { database: name })))

const accepted = async (dsn: string) => {
  const outcome = await verify(dsn)
  if (outcome._tag === "Left") throw new Error(outcome.left.message)
  return outcome.right
}

let before: Record<string, string>
let dir: string

beforeAll(async () => {
  await ensureSentinels()
  await cleanup()
  before = await fingerprint()
  dir = await mkdtemp(join(tmpdir(), "wl-it-dsn-"))
})

afterEach(async () => {
  expect(await fingerprint()).toEqual(before)
})

afterAll(async () => {
  await cleanup()
  await rm(dir, { recursive: true, force: true })
})

describe("the DSN's session settings reach every connection the lane opens", () => {
  it("?options=-c search_path=...: the Migrator creates its tables where the DSN says, and the suites' connection uses it", async () => {
    // the first migration creates the schema; with the DSN's search_path its table lands there
    await writeFile(join(dir, "0001_lanes.sql"), "CREATE SCHEMA lanes;\nCREATE TABLE placed (id int);\n")
    const target = await accepted(`${TestDatabase.url(database)}?options=-c%20search_path%3Dlanes,public`)
    const exit = await Effect.runPromiseExit(DatabaseReset.reset(target, { migrationsDirectory: dir }))
    if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
    const placed = await withClient(database, async (c) =>
      (await c.query("SELECT table_schema FROM information_schema.tables WHERE table_name = 'placed'")).rows)
    expect(placed).toEqual([{ table_schema: "lanes" }])

    const searchPath = await Effect.runPromise(
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return (yield* sql<{ search_path: string }>`SHOW search_path`)[0]!.search_path
      }).pipe(Effect.provide(LaneDatabase.layer().pipe(Layer.provide(Layer.succeed(DsnGuard.VerifiedTarget, target)))), Effect.scoped)
    )
    expect(searchPath).toBe("lanes,public")
  })

  it("?options=-c default_transaction_read_only=on reaches the maintenance connection: the reset stops with read-only-server", async () => {
    const target = await accepted(`${TestDatabase.url(database)}?options=-c%20default_transaction_read_only%3Don`)
    const exit = await Effect.runPromiseExit(DatabaseReset.reset(target))
    const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    if (Option.isNone(failure)) throw new Error("expected the reset to fail")
    const error = failure.value as DatabaseReset.DatabaseResetError
    expect(error.reason).toBe("read-only-server")
    expect(error.code).toBe("25006")
    expect(error.message).toContain("point the DSN at the primary server")
    expect(error.message).not.toContain("see the driver's error above")
  })
})

describe("what the reset can tell without a connection comes before one", () => {
  // a server that accepts and never answers: a connection would hang up to its timeout, then be abandoned
  it("a missing migrations directory is reported without connecting at all", async () => {
    const sockets: Array<Socket> = []
    const server = createServer((socket) => void sockets.push(socket))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const port = (server.address() as { port: number }).port
      const outcome = await Cli.workflowLive(["reset"], {
        env: {
          TENDERBOT_WORKFLOW_DB_DSN: `postgres://postgres@127.0.0.1:${port}/tenderbot_workflow_test`,
          WORKFLOW_LIVE_MIGRATIONS_DIR: join(tmpdir(), "wl-it-no-such-migrations-dir")
        }
      })
      expect(outcome.code, outcome.output).toBe(1)
      expect(outcome.output).toMatch(/migrations directory .* does not exist/i)
      expect(sockets).toHaveLength(0)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe("a DSN the lane would read differently from other tools is refused before anything connects", () => {
  it("a query string naming another database than the path (psql would land there)", async () => {
    const dsn = `${TestDatabase.url("tenderbot_workflow_test")}?dbname=tenderbot`
    const outcome = await Cli.workflowLive(["reset"], { env: { TENDERBOT_WORKFLOW_DB_DSN: dsn } })
    expect(outcome.code).toBe(1)
    expect(outcome.output).toContain("refused (conflicting-database)")
    expect(outcome.output).toContain("Remove ?dbname= from the DSN")
    expect(outcome.output).not.toMatch(Cli.stackLine)
  })

  it("a value that is not a URL (a key in the wrong variable) is never printed, only its length", async () => {
    const pasted = "sk-live-Qm9vQmFyQmF6U2VjcmV0S2V5MTIz"
    const outcome = await Cli.workflowLive(["target"], { env: { TENDERBOT_WORKFLOW_DB_DSN: pasted } })
    expect(outcome.code).toBe(1)
    expect(outcome.output).toContain("refused (not-a-url)")
    expect(outcome.output).toContain(`(${pasted.length} characters, not shown`)
    expect(outcome.output).not.toContain(pasted.slice(2))
  })

  it("sslmode is the lane's own message: what TLS it uses, or why it refuses; never the driver's SECURITY WARNING", async () => {
    const require = await Cli.workflowLive(["target"], {
      env: { TENDERBOT_WORKFLOW_DB_DSN: `${TestDatabase.url("tenderbot_workflow_test")}?sslmode=require` }
    })
    expect(require.code, require.output).toBe(0)
    expect(require.output).toContain("TLS:      encrypted, server certificate NOT verified (sslmode=require)")
    const prefer = await Cli.workflowLive(["target"], {
      env: { TENDERBOT_WORKFLOW_DB_DSN: `${TestDatabase.url("tenderbot_workflow_test")}?sslmode=prefer` }
    })
    expect(prefer.code).toBe(1)
    expect(prefer.output).toContain("refused (unsupported-sslmode)")
    for (const output of [require.output, prefer.output]) {
      expect(output).not.toContain("SECURITY WARNING")
      expect(output).not.toContain("are treated as aliases for 'verify-full'")
    }
  })
})
