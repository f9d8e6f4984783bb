// One passing and one failing test, both with fixtures: the failure belongs to the tests phase.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixtures from "../../../src/Fixtures.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

layer(WorkflowLive.layer)("failing", (it) => {
  it.scoped("passes", () =>
    Effect.gen(function*() {
      yield* (yield* Fixtures.Fixtures).customer()
    }))
  it.scoped("finds the wrong number of profiles", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      yield* fixtures.alertProfile(customer)
      expect("2 profiles", "the intended failure").toBe("1 profile")
    }))
})
