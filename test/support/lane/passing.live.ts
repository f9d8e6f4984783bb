// Two passing tests with fixtures: what a healthy file next to a broken one reports.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixtures from "../../../src/Fixtures.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

layer(WorkflowLive.layer)("passing", (it) => {
  it.scoped("creates a customer", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      expect(customer.externalId.startsWith(`wl-${fixtures.runId}-`)).toBe(true)
    }))
  it.scoped("creates a tender", () =>
    Effect.gen(function*() {
      const tender = yield* (yield* Fixtures.Fixtures).tender()
      expect(tender.id).toBeGreaterThan(0)
    }))
})
