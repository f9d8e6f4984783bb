import { describe, expect, it } from "vitest"
import { classify, fixFor, namedProblems } from "../../src/internal/pgError.js"

/** An error shaped like the driver's: a message and a SQLSTATE or errno, wrapped as @effect/sql wraps it. */
const driverError = (code: string | undefined, message: string, wrapper = "Failed to execute statement") =>
  Object.assign(new Error(wrapper), { cause: Object.assign(new Error(message), code === undefined ? {} : { code }) })

describe("pgError", () => {
  it("tells server-side states apart by SQLSTATE", () => {
    const cases: ReadonlyArray<[string, string, string]> = [
      ["57P03", "the database system is starting up", "server-unavailable"],
      ["57P03", "the database system is shutting down", "server-unavailable"],
      ["53300", "sorry, too many clients already", "too-many-connections"],
      ["53300", "too many connections for role \"x\"", "too-many-connections"],
      ["25006", "cannot execute CREATE DATABASE in a read-only transaction", "read-only-server"],
      ["53100", "could not extend file: No space left on device", "insufficient-resources"],
      ["53200", "out of memory", "insufficient-resources"],
      ["57P01", "terminating connection due to administrator command", "session-terminated"],
      ["57P05", "terminating connection due to idle-session timeout", "session-terminated"],
      ["25P03", "terminating connection due to idle-in-transaction timeout", "session-terminated"]
    ]
    for (const [code, message, problem] of cases) {
      expect(classify(driverError(code, message)), `${code} ${message}`).toMatchObject({ problem, code })
    }
  })

  it("a server error that mentions a timeout is the server's answer, not a network timeout", () => {
    expect(classify(driverError("22023", 'invalid value for parameter "statement_timeout": "abc"'))).toMatchObject({ problem: "other", code: "22023" })
    expect(classify(driverError("57014", "canceling statement due to statement timeout"))).toMatchObject({ problem: "other", code: "57014" })
    // no SQLSTATE: the driver's own timeout
    expect(classify(driverError(undefined, "Connection terminated due to connection timeout")).problem).toBe("timeout")
  })

  it("a connection that dies after it was open is a terminated session; while connecting it stays a timeout", () => {
    expect(classify(driverError(undefined, "Client has encountered a connection error and is not queryable")).problem)
      .toBe("session-terminated")
    expect(classify(driverError(undefined, "Connection terminated unexpectedly")).problem).toBe("session-terminated")
    expect(classify(driverError(undefined, "Connection terminated unexpectedly", "PgClient: Failed to connect")).problem)
      .toBe("timeout")
  })

  it("every named problem has its own fix, never \"see the driver's error\"; an unknown one names its SQLSTATE", () => {
    const fixes = new Set<string>()
    for (const problem of namedProblems) {
      const fix = fixFor(problem, "db.example:5432", "app", "tenderbot_workflow_test", "53100")
      expect(fix, problem).not.toMatch(/see the driver's error/)
      fixes.add(fix)
    }
    expect(fixes.size).toBe(namedProblems.length)
    expect(fixFor("server-unavailable", "db.example:5433", "app", "x")).toContain("pg_isready -h db.example -p 5433")
    expect(fixFor("other", "h:1", "u", "d", "XX000")).toContain("SQLSTATE XX000")
    expect(classify(driverError("XX000", "internal error"))).toMatchObject({ problem: "other", code: "XX000" })
  })
})
