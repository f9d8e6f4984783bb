// An interrupted statement on one of the harness's connections is cancelled on the server at once. Most of
// the harness's pools hold one connection, and @effect/sql-pg cancels through a second one: it waited for
// the pool's connect timeout (5 s) and the statement ran on (src/internal/pgPool.ts answers it with the
// protocol's cancel request).
import { Effect, Exit, Fiber, Scope } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as TestDatabase from "../support/testDatabase.js"

const applicationName = "wl-it-cancel-on-interrupt"
const observer = new pg.Client(TestDatabase.connection("postgres", "wl-it-cancel-observer"))
beforeAll(() => observer.connect())
afterAll(() => observer.end())

const running = async (): Promise<number> =>
  (await observer.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'",
    [applicationName]
  )).rows[0]!.n

const until = async (predicate: () => Promise<boolean>, ms: number) => {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

describe("an interrupted statement on a one-connection pool", () => {
  it("is cancelled on the server as the interruption ends, and the connection serves the next statement", async () => {
    const target = await Effect.runPromise(TestDatabase.target("wl_it_cancel"))
    const scope = Effect.runSync(Scope.make())
    try {
      const sql = await Effect.runPromise(
        Scope.extend(LaneDatabase.open(target, { database: "postgres", applicationName, maxConnections: 1 }), scope)
      )
      const fiber = Effect.runFork(sql.unsafe("SELECT pg_sleep(30)"))
      expect(await until(async () => (await running()) === 1, 10_000)).toBe(true)
      await Effect.runPromise(Fiber.interrupt(fiber))
      // the statement is gone within moments, not when its 30 s are up (or the 5 s connect timeout)
      expect(await until(async () => (await running()) === 0, 2_000)).toBe(true)
      const [row] = await Effect.runPromise(sql.unsafe<{ one: number }>("SELECT 1 AS one"))
      expect(row!.one).toBe(1)
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }, 60_000)
})
