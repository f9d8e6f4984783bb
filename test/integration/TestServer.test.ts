// Which PostgreSQL the tests use (test/support/testServer.ts): a configured server that is unusable is a
// clear failure, never a quiet switch to a throwaway one; `embedded` asks for one; the integration lane's
// global setup says what went wrong before Vitest's own "No test files found".
import { Cause, Effect, Exit, Option, Redacted, Scope } from "effect"
import { execFile } from "node:child_process"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { freePort } from "../support/httpServer.js"
import { withClient } from "../support/sentinels.js"
import * as TestDatabase from "../support/testDatabase.js"
import * as TestServer from "../support/testServer.js"

const acquireWith = (env: NodeJS.ProcessEnv) =>
  Effect.runPromiseExit(Effect.scoped(Effect.gen(function*() {
    const server = yield* TestServer.acquire(env)
    const client = new pg.Client({ connectionString: Redacted.value(server.url), database: "postgres" })
    yield* Effect.promise(() => client.connect())
    const user = yield* Effect.promise(() => client.query<{ u: string }>("SELECT current_user AS u"))
    yield* Effect.promise(() => client.end())
    return { description: server.description, user: user.rows[0]!.u, url: Redacted.value(server.url) }
  })))

const failureOf = (exit: Exit.Exit<unknown, unknown>): TestServer.TestServerError => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  if (Option.isNone(failure) || !(failure.value instanceof TestServer.TestServerError)) {
    throw new Error(`expected a TestServerError, got ${String(exit)}`)
  }
  return failure.value
}

describe("the test server", () => {
  it("WORKFLOW_LIVE_TEST_SERVER unreachable: a failure naming the server and the fix, never a throwaway one", async () => {
    const port = await freePort()
    const started = performance.now()
    const error = failureOf(await acquireWith({ [TestServer.variable]: `postgres://postgres:Pw1secret@127.0.0.1:${port}` }))
    expect(performance.now() - started).toBeLessThan(10_000)
    expect(error.message).toContain(`postgres:*****@127.0.0.1:${port} (WORKFLOW_LIVE_TEST_SERVER): connection-refused`)
    expect(error.message).toContain("WORKFLOW_LIVE_TEST_SERVER=embedded")
    expect(error.message).not.toContain("Pw1secret")
  })

  it("WORKFLOW_LIVE_TEST_SERVER that is not a postgres URL, or a user that is not a superuser, is refused", async () => {
    expect(failureOf(await acquireWith({ [TestServer.variable]: "mysql://root@127.0.0.1:3306" })).detail).toMatch(/not a postgres:\/\/ URL/)
    const role = "wl_it_test_server_plain"
    await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN PASSWORD '${TestDatabase.secret}'`))
    try {
      const plain = TestDatabase.url("", { user: role, password: TestDatabase.secret }).replace(/\/$/, "")
      const error = failureOf(await acquireWith({ [TestServer.variable]: plain }))
      expect(error.detail).toContain(`\`${role}\` is not a superuser`)
      expect(error.message).not.toContain(TestDatabase.secret)
    } finally {
      await withClient("postgres", (c) => c.query(`DROP ROLE IF EXISTS ${role}`))
    }
  })

  it("the server the run uses is the one WORKFLOW_LIVE_TEST_SERVER names", async () => {
    const exit = await acquireWith({ [TestServer.variable]: process.env[TestServer.variable] })
    expect(Exit.isSuccess(exit), String(exit)).toBe(true)
    const value = (exit as Exit.Success<{ description: string; user: string; url: string }, unknown>).value
    expect(value.user).toBe(TestDatabase.server.user)
    expect(value.description).toContain(`(${TestServer.variable})`)
  })

  it("WORKFLOW_LIVE_TEST_SERVER=embedded: a throwaway server, gone with its scope", async () => {
    const scope = Effect.runSync(Scope.make())
    const server = await Effect.runPromise(TestServer.acquire({ [TestServer.variable]: "embedded" }).pipe(Scope.extend(scope)))
    expect(server.description).toMatch(/^embedded PostgreSQL 15\.\d+.* on 127\.0\.0\.1:\d+, data in (\S+), removed/)
    const dir = /data in (\S+),/.exec(server.description)![1]!
    const { existsSync } = await import("node:fs")
    expect(existsSync(dir)).toBe(true)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    expect(existsSync(dir)).toBe(false)
  }, 60_000)

  it("the integration lane's global setup prints the reason first, without a stack, and exits non-zero", async () => {
    const port = await freePort()
    const outcome = await new Promise<{ code: number | null; output: string }>((resolve) =>
      execFile(
        "node_modules/.bin/vitest",
        ["run", "--project", "integration", "test/integration/TestServer.test.ts"],
        { env: { ...process.env, [TestServer.variable]: `postgres://postgres@127.0.0.1:${port}`, NO_COLOR: "1" }, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), output: `${stdout}\n${stderr}` })
      )
    )
    expect(outcome.code, outcome.output).not.toBe(0)
    expect(outcome.output).toContain(`The tests cannot use the PostgreSQL at postgres@127.0.0.1:${port} (WORKFLOW_LIVE_TEST_SERVER)`)
    expect(outcome.output).not.toContain("embedded PostgreSQL")
    expect(outcome.output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
  }, 90_000)
})
