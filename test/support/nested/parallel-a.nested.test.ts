// Run with parallel-b by test/integration/FixturesParallel.test.ts, in two workers, same run ID, same
// database: a releases first, while b still holds its rows.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as DbAssert from "../../../src/DbAssert.js"
import { customerWithEverything, exists, runCustomers, Suite, waitUntil } from "./suite.js"

let mine: number | undefined

layer(Suite, { excludeTestServices: true })("parallel a", (it) => {
  it.scoped("sees only its own rows while b holds its own", () =>
    Effect.gen(function*() {
      const { customer, tender, profile } = yield* customerWithEverything
      mine = customer.id
      yield* waitUntil("b has created its customer", Effect.map(runCustomers, (n) => n === 2))
      yield* DbAssert.exactly("alert_profiles", customer, [{ name: profile.name }])
      yield* DbAssert.exactly("tender_matches", customer, [{ tenderExternalId: tender.externalId }])
      yield* DbAssert.exactly("notifications", customer, [{ tenderExternalId: tender.externalId }])
    }))

  it.effect("its rows are gone after its scope closed", () =>
    Effect.gen(function*() {
      expect(mine).toBeDefined()
      expect(yield* exists(mine!)).toBe(false)
    }))
})
