import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixtures from "../../src/Fixtures.js"
import * as RunId from "../../src/RunId.js"
import { runNested } from "../support/nestedVitest.js"
import * as TestDatabase from "../support/testDatabase.js"

// Real Vitest runs in a subprocess: a real failed assertion, a real test timeout, two real files in
// two workers. The parent checks the database afterwards.
const database = "wl_it_fixtures_2"

beforeAll(() => TestDatabase.runPromise(TestDatabase.create(database)), 60_000)
afterAll(() => TestDatabase.runPromise(TestDatabase.drop(database)), 60_000)

const leaksOf = (runId: RunId.RunIdString) =>
  TestDatabase.runPromise(
    Effect.flatMap(TestDatabase.target(database), (target) => Fixtures.onTarget(target, Fixtures.leaks(runId)))
  )

const none = { notifications: 0, tender_matches: 0, alert_profiles: 0, tenders: 0, customers: 0 }

describe("fixture cleanup in real Vitest runs", () => {
  it("leaves no row after a pass, a failed assertion, Effect.fail, a defect and a timeout", async () => {
    const runId = RunId.generate()
    const run = await runNested(["test/support/nested/lifecycle.nested.test.ts"], {
      WL_NESTED_DATABASE: database,
      [RunId.variable]: runId
    })
    const byName = Object.fromEntries(run.tests.map((t) => [t.fullName, t]))
    expect(run.tests, run.output).toHaveLength(5)
    expect(byName["lifecycle passes"]?.status, run.output).toBe("passed")
    const failedWith = (name: string) => {
      const test = byName[`lifecycle ${name}`]
      expect(test?.status, run.output).toBe("failed")
      return test?.failureMessages.join("\n") ?? ""
    }
    // each failure is the intended one, so the fixtures (created first) did exist
    expect(failedWith("fails an assertion")).toContain("intended assertion failure")
    expect(failedWith("fails with Effect.fail")).toContain("intended Effect.fail")
    expect(failedWith("dies with a defect")).toContain("intended defect")
    // the JSON reporter keeps only the stack of a timeout; the duration shows it ran into the limit
    expect(failedWith("times out")).not.toMatch(/intended/)
    expect(byName["lifecycle times out"]?.duration ?? 0).toBeGreaterThanOrEqual(1_500)
    expect(run.code).toBe(1)
    expect(await leaksOf(runId)).toEqual(none)
  }, 60_000)

  it("two files in parallel on one database and run ID never see or delete each other's rows", async () => {
    const runId = RunId.generate()
    const run = await runNested(
      ["test/support/nested/parallel-a.nested.test.ts", "test/support/nested/parallel-b.nested.test.ts"],
      { WL_NESTED_DATABASE: database, [RunId.variable]: runId }
    )
    expect(run.tests.map((t) => [t.fullName, t.status]), run.output).toEqual(
      expect.arrayContaining([
        ["parallel a sees only its own rows while b holds its own", "passed"],
        ["parallel a its rows are gone after its scope closed", "passed"],
        ["parallel b keeps its rows through a's cleanup", "passed"]
      ])
    )
    expect(run.code, run.output).toBe(0)
    expect(await leaksOf(runId)).toEqual(none)
  }, 60_000)
})
