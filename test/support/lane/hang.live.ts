// Creates a customer, a profile and a tender, tells the outer test it is ready, then never finishes.
import { layer } from "@effect/vitest"
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import * as Fixtures from "../../../src/Fixtures.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

layer(WorkflowLive.layer)("interrupted mid-test", (it) => {
  it.scoped("holds its fixtures until the lane is interrupted", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      yield* fixtures.alertProfile(customer)
      yield* fixtures.tender()
      writeFileSync(process.env.WORKFLOW_LIVE_PROBE_READY!, customer.externalId)
      return yield* Effect.never
    }))
})
