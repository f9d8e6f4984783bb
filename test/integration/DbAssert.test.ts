// What a person sees when a DbAssert fails, in a real nested Vitest run on the test database: a headline
// naming the table and the fields that differ, only the compared fields (expected next to actual), and
// the test's own line as the first stack frame (also in Vitest's terminal output), not src/DbAssert.ts.
import { readFileSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as RunId from "../../src/RunId.js"
import { runNested } from "../support/nestedVitest.js"
import * as TestDatabase from "../support/testDatabase.js"

const database = "wl_it_dbassert"
const file = "test/support/nested/dbassert.nested.test.ts"

beforeAll(() => TestDatabase.runPromise(TestDatabase.create(database)), 60_000)
afterAll(() => TestDatabase.runPromise(TestDatabase.drop(database)), 60_000)

// the 1-based line of the assertion marked `// line: <name>` in the nested file
const lineOf = (name: string): number =>
  readFileSync(new URL(`../../${file}`, import.meta.url), "utf8").split("\n").findIndex((l) => l.includes(`// line: ${name}`)) + 1

const firstFrame = (stack: string): string | undefined => stack.split("\n").find((line) => /^\s+at /.test(line))

describe("DbAssert failures in a real Vitest run", () => {
  it("say what differs, show only compared fields, and point at the test's line", async () => {
    const run = await runNested([file], {
      WL_NESTED_DATABASE: database,
      [RunId.variable]: RunId.generate(),
      NO_COLOR: "1"
    }, [
      "--reporter=default"
    ])
    const failure = (name: string) => {
      const test = run.tests.find((t) => t.fullName === `dbassert ${name}`)
      expect(test?.status, run.output).toBe("failed")
      return test?.failureMessages.join("\n") ?? ""
    }

    const differs = failure("a field differs")
    expect(differs).toMatch(/^DbAssertError: 1 row differs in `alert_profiles`: keywords \(customer \d+: expected 1 row, found 1\)/)
    expect(differs).toMatch(/✗ keywords +\["tunnel"\] +\["bridge"\]/)
    expect(differs).toMatch(/ {3}name +"Bridges" +"Bridges"/)
    // never compared, so never shown (nor diffed): the profile's other fields
    for (const field of ["regions", "cpvCodes", "minValueEur", "active", "DE21", "45221111"]) {
      expect(differs, field).not.toContain(field)
    }
    expect(firstFrame(differs), differs).toContain(`${file}:${lineOf("field-differs")}:`)
    expect(differs).not.toMatch(/src\/DbAssert\.ts|node_modules\/effect/)

    const customer = failure("the customer row itself")
    expect(customer).toMatch(/^DbAssertError: 1 row differs in `customers`: name/)
    expect(customer).not.toContain("email")
    expect(firstFrame(customer), customer).toContain(`${file}:${lineOf("customer-differs")}:`)

    // Vitest's own terminal report: its code frame and diff for the test's line, without uncompared fields
    expect(run.output).toMatch(new RegExp(`❯ (next )?${file}:${lineOf("field-differs")}:`))
    const start = run.output.lastIndexOf("dbassert > a field differs")
    const diff = run.output.slice(start, run.output.indexOf("⎯⎯", start))
    expect(diff).toContain("- Expected")
    expect(diff).not.toContain("regions")
    expect(run.code).toBe(1)
  }, 120_000)
})
