import { Cause, Effect, Exit, Option, Redacted, Scope } from "effect"
import { createServer, type Server, type Socket } from "node:net"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import { dropDatabases, ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

// Only loopback addresses, and only this file's own names.
const database = "wl_it_reset_conn"
const role = "wl_it_reset_nocreatedb"
const limited = "wl_it_reset_nolimit"

const resetWith = async (dsn: string, options: DatabaseReset.Options = {}) => {
  const target = await Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(dsn)), {}, { database }))
  return Effect.runPromiseExit(DatabaseReset.reset(target, { connectTimeout: "1 second", ...options }))
}

const failureOf = (exit: Exit.Exit<unknown, unknown>): DatabaseReset.DatabaseResetError => {
  if (Exit.isSuccess(exit)) throw new Error("expected the reset to fail, it succeeded")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value as DatabaseReset.DatabaseResetError
}

const listen = (onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> =>
  new Promise((resolve) => {
    const server = createServer(onConnection)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve({ server, port: typeof address === "object" && address !== null ? address.port : 0 })
    })
  })

let before: Record<string, string>
const embeddedScope = Effect.runSync(Scope.make())
let embedded: EmbeddedPostgres.EmbeddedServer

beforeAll(async () => {
  await ensureSentinels()
  before = await fingerprint()
  // one throwaway server with password auth (scram-sha-256) for the whole file
  embedded = await Effect.runPromise(EmbeddedPostgres.make().pipe(Scope.extend(embeddedScope)))
}, 60_000)

afterEach(async () => {
  expect(await fingerprint()).toEqual(before)
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(embeddedScope, Exit.void))
  await dropDatabases([database], [`${database}__tpl_`])
  await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${role}`))
  await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${limited}`))
})

/** A PostgreSQL wire-protocol error answer: `FATAL <code> <message>`, as a server sends it before closing. */
const fatal = (code: string, message: string): Buffer => {
  const fields = Buffer.concat([
    Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0`, "utf8"),
    Buffer.from([0])
  ])
  const head = Buffer.alloc(5)
  head.write("E", 0)
  head.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([head, fields])
}

/** A server that answers every connection's startup with one FATAL error, as PostgreSQL does while starting up. */
const answering = (code: string, message: string) =>
  listen((socket) => {
    socket.once("data", () => socket.end(fatal(code, message)))
    socket.on("error", () => {})
  })

describe("DatabaseReset connection failures, each with its own reason", () => {
  it("a closed port is connection-refused", async () => {
    const { server, port } = await listen(() => {})
    await new Promise((resolve) => server.close(resolve))
    const error = failureOf(await resetWith(`postgres://postgres@127.0.0.1:${port}/${database}`))
    expect(error.reason).toBe("connection-refused")
    expect(error.message).toContain(`nothing accepts connections on 127.0.0.1:${port}`)
  })

  it("a server that accepts and never answers is a timeout", async () => {
    const sockets: Array<Socket> = []
    const { server, port } = await listen((socket) => sockets.push(socket))
    try {
      const started = performance.now()
      const error = failureOf(await resetWith(`postgres://postgres@127.0.0.1:${port}/${database}`, { connectTimeout: "500 millis" }))
      expect(error.reason).toBe("timeout")
      expect(error.message).toContain(`127.0.0.1:${port} accepted no PostgreSQL conversation in time`)
      expect(performance.now() - started).toBeLessThan(5_000)
    } finally {
      sockets.forEach((s) => s.destroy())
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it("a wrong password is authentication-failed, and the password never shows", async () => {
    const wrong = "wrong-Pa55word-x"
    const error = failureOf(await resetWith(`postgres://postgres:${wrong}@127.0.0.1:${embedded.port}/${database}`))
    expect(error.reason).toBe("authentication-failed")
    expect(error.message).toMatch(/password authentication failed for user "postgres"/)
    expect(error.message).not.toContain(wrong)
    expect(JSON.stringify(error)).not.toContain(wrong)
  })

  it("the right password on the password-auth server resets cold", async () => {
    const result = await Effect.runPromise(
      DsnGuard.verify(Option.some(embedded.dsn(database)), {}, { database }).pipe(
        Effect.flatMap((target) => DatabaseReset.reset(target))
      )
    )
    expect(result.mode).toBe("cold")
    expect(result.applied.length).toBe(5)
  })

  it("a role without CREATEDB is refused before anything is dropped", async () => {
    await withClient("postgres", (c) =>
      c.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN
          CREATE ROLE ${role} LOGIN NOCREATEDB PASSWORD '${TestDatabase.secret}';
        END IF;
      END $$`))
    const error = failureOf(await resetWith(TestDatabase.url(database, { user: role, password: TestDatabase.secret })))
    expect(error.reason).toBe("missing-createdb")
    expect(error.message).toContain(`ALTER ROLE "${role}" CREATEDB;`)
  })

  it("a server starting up or shutting down (57P03) is server-unavailable, with a fix that says to wait for it", async () => {
    const { server, port } = await answering("57P03", "the database system is starting up")
    try {
      const error = failureOf(await resetWith(`postgres://postgres@127.0.0.1:${port}/${database}`))
      expect(error.reason).toBe("server-unavailable")
      expect(error.message).toContain("the database system is starting up")
      expect(error.message).toContain(`pg_isready -h 127.0.0.1 -p ${port}`)
      expect(error.message).not.toContain("see the driver's error above")
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it("no free connection slot (53300) is too-many-connections, with a fix", async () => {
    const password = TestDatabase.server.password === undefined ? "" : ` PASSWORD '${TestDatabase.server.password}'`
    await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${limited}; CREATE ROLE ${limited} LOGIN CREATEDB CONNECTION LIMIT 0${password}`))
    const error = failureOf(await resetWith(TestDatabase.url(database, { user: limited })))
    expect(error.reason).toBe("too-many-connections")
    expect(error.code).toBe("53300")
    expect(error.message).toContain("close idle sessions")
    expect(error.message).not.toContain("see the driver's error above")
  })
})
