// The lock that protects a running lane, on the real server: no moment between the reset and the shared
// lock, no idle timeout can end it, a second lane's reset waits and fails while the first lane's rows
// survive, and losing the lock (terminated, connection cut) is noticed at once, with why.
import { Cause, Duration, Effect, Exit, Fiber, Option, Redacted, Scope } from "effect"
import { createServer, type Server, type Socket, connect } from "node:net"
import pg from "pg"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as Migrations from "../../src/Migrations.js"
import { dropDatabases, ensureSentinels, fingerprint, withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"

// This file's own names; nothing else is ever dropped here.
const database = "wl_it_protect"
const idleRole = "wl_it_protect_idle"
const cleanup = async () => {
  await dropDatabases([database], [Migrations.templatePrefix(database)])
  await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${idleRole}`))
}

const targetFor = (dsn: string) =>
  Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(dsn)), {}, { database }))

/** A lane's reset and lock, held until `release`; `lost` settles when the lane would fail. */
const lane = async (dsn: string, options: DatabaseReset.Options = {}) => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(
    DatabaseReset.resetAndProtect(await targetFor(dsn), { heartbeat: "200 millis", ...options }).pipe(Scope.extend(scope))
  )
  if (Exit.isFailure(exit)) throw new Error(Cause.pretty(exit.cause))
  const { protection, result } = exit.value
  const lost = Effect.runFork(Effect.flip(protection.lost))
  return {
    result,
    protection,
    /** The protection-lost error, or `undefined` when it is still held after `ms`. */
    lostWithin: (ms: number) =>
      Effect.runPromise(Fiber.join(lost).pipe(Effect.timeoutTo({ duration: Duration.millis(ms), onTimeout: () => undefined, onSuccess: (e) => e }))),
    release: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected the reset to fail, it succeeded")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value as DatabaseReset.DatabaseResetError
}

/** Another lane's reset of the same database. */
const secondReset = async (lockTimeout: Duration.DurationInput = "600 millis") =>
  Effect.runPromiseExit(DatabaseReset.reset(await targetFor(TestDatabase.url(database)), { lockTimeout }))

const laneRows = () =>
  withClient(database, async (c) => (await c.query("SELECT count(*)::int AS n FROM customers WHERE external_id = 'lane-a'")).rows[0].n)

const writeLaneRow = () =>
  withClient(database, (c) => c.query("INSERT INTO customers (external_id, name, email) VALUES ('lane-a', 'A', 'a@example.test')"))

const lockRows = () =>
  withClient("postgres", async (c) =>
    (await c.query<{ pid: number; mode: string; granted: boolean }>(
      `SELECT pid, mode, granted FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2
        AND classid = $1::int4::oid AND objid = hashtext($2)::oid ORDER BY granted DESC, pid`,
      [DatabaseReset.lockNamespace, database]
    )).rows)

let before: Record<string, string>

beforeAll(async () => {
  await ensureSentinels()
  await cleanup()
  before = await fingerprint()
})

afterEach(async () => {
  expect(await fingerprint()).toEqual(before)
})

afterAll(cleanup)

describe("the lock that protects a running lane", () => {
  it("turns shared on the reset's own session with no gap: a reset already waiting for it stays waiting", async () => {
    const waiter = new pg.Client(TestDatabase.connection("postgres", "wl-it-waiting-reset"))
    await waiter.connect()
    let granted = false
    try {
      let lockPid = 0
      const a = await lane(TestDatabase.url(database), {
        // the moment lane A holds the exclusive lock, a second reset queues up behind it
        onStep: (step) =>
          step.name !== "lock" ? Effect.void : Effect.promise(async () => {
            lockPid = (await lockRows())[0]!.pid
            void waiter.query("SELECT pg_advisory_lock($1, hashtext($2))", [DatabaseReset.lockNamespace, database])
              .then(() => (granted = true), () => undefined)
            for (let i = 0; i < 100 && !(await lockRows()).some((l) => !l.granted); i++) await new Promise((r) => setTimeout(r, 20))
          })
      })
      expect(a.result.steps.map((s) => s.name)).toContain("protect")
      await new Promise((r) => setTimeout(r, 300))
      const locks = await lockRows()
      // the same session that held the exclusive lock now holds the shared one; the waiter never got in
      expect(a.protection.pid).toBe(lockPid)
      expect(locks).toEqual([
        { pid: lockPid, mode: "ShareLock", granted: true },
        expect.objectContaining({ mode: "ExclusiveLock", granted: false })
      ])
      expect(granted).toBe(false)
      await a.release()
      for (let i = 0; i < 100 && !granted; i++) await new Promise((r) => setTimeout(r, 20))
      expect(granted).toBe(true)
    } finally {
      await waiter.end()
    }
  })

  it("a second lane's reset waits, then fails naming the running lane; the first lane's rows survive", async () => {
    const a = await lane(TestDatabase.url(database))
    try {
      await writeLaneRow()
      const error = failureOf(await secondReset())
      expect(error.reason).toBe("lock-timeout")
      expect(error.sessions.map((s) => s.pid)).toEqual([a.protection.pid])
      expect(error.message).toContain("lane running tests")
      expect(await laneRows()).toBe(1)
      expect(await a.lostWithin(100)).toBeUndefined()
    } finally {
      await a.release()
    }
  })

  it("idle timeouts set for the role do not end the session: the lock holds, the second reset fails, the rows survive", async () => {
    const password = TestDatabase.server.password === undefined ? "" : ` PASSWORD '${TestDatabase.server.password}'`
    await withClient("postgres", async (c) => {
      await c.query(`CREATE ROLE ${idleRole} LOGIN CREATEDB${password}`)
      // what a server (or its role settings) may impose: every idle session of this role ends after 300 ms
      await c.query(`ALTER ROLE ${idleRole} SET idle_session_timeout = '300ms'`)
      await c.query(`ALTER ROLE ${idleRole} SET idle_in_transaction_session_timeout = '300ms'`)
    })
    await dropDatabases([database], [Migrations.templatePrefix(database)])
    const a = await lane(TestDatabase.url(database, { user: idleRole }), { heartbeat: "10 seconds" })
    try {
      await writeLaneRow()
      // well past the timeout, with no statement on the session in between (the heartbeat is 10 s)
      expect(await a.lostWithin(1_500)).toBeUndefined()
      const alive = await withClient("postgres", async (c) =>
        (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1", [a.protection.pid])).rows[0].n)
      expect(alive).toBe(1)
      const error = failureOf(await secondReset())
      expect(error.reason).toBe("lock-timeout")
      expect(await laneRows()).toBe(1)
    } finally {
      await a.release()
      await dropDatabases([database], [Migrations.templatePrefix(database)])
    }
  })

  it("a terminated session fails the lane at once with protection-lost, saying it was terminated", async () => {
    const a = await lane(TestDatabase.url(database), { heartbeat: "10 seconds" })
    try {
      const started = performance.now()
      await withClient("postgres", (c) => c.query("SELECT pg_terminate_backend($1)", [a.protection.pid]))
      const error = await a.lostWithin(5_000)
      expect(error?.reason).toBe("protection-lost")
      expect(performance.now() - started).toBeLessThan(2_000)
      expect(error?.message).toContain("The lane's protection of `wl_it_protect`")
      expect(error?.message).toMatch(/terminated it \(pg_terminate_backend/)
      expect(error?.code).toBe("57P01")
      // the lock is gone with the session: the next lane's reset goes ahead (the lane above has failed)
      expect(Exit.isSuccess(await secondReset())).toBe(true)
    } finally {
      await a.release()
    }
  })

  it("a connection cut on the way (a proxy or network dropping it) fails the lane at once with protection-lost", async () => {
    const proxy = await tcpProxy(TestDatabase.server.host, TestDatabase.server.port)
    try {
      const dsn = TestDatabase.url(database).replace(TestDatabase.address, `127.0.0.1:${proxy.port}`)
      const a = await lane(dsn, { heartbeat: "10 seconds" })
      try {
        const started = performance.now()
        proxy.cut()
        const error = await a.lostWithin(5_000)
        expect(error?.reason).toBe("protection-lost")
        expect(performance.now() - started).toBeLessThan(2_000)
        expect(error?.message).toMatch(/connection (was closed|failed)/)
      } finally {
        await a.release()
      }
    } finally {
      await proxy.close()
    }
  })
})

/** A TCP proxy to the test server whose connections can be cut at once. */
const tcpProxy = (host: string, port: number) =>
  new Promise<{ port: number; cut: () => void; close: () => Promise<void> }>((resolve) => {
    const sockets: Array<Socket> = []
    const server: Server = createServer((client) => {
      const upstream = connect(port, host)
      sockets.push(client, upstream)
      client.pipe(upstream)
      upstream.pipe(client)
      client.on("error", () => upstream.destroy())
      upstream.on("error", () => client.destroy())
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as { port: number }).port,
        cut: () => sockets.forEach((s) => s.destroy()),
        close: () => new Promise((done) => server.close(() => done()))
      }))
  })
