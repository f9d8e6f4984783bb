// The other half of parallel-a: keeps its rows until a has cleaned up, then checks they are intact.
import { layer } from "@effect/vitest"
import { Effect } from "effect"
import * as DbAssert from "../../../src/DbAssert.js"
import { customerWithEverything, runCustomers, Suite, waitUntil } from "./suite.js"

layer(Suite, { excludeTestServices: true })("parallel b", (it) => {
  it.scoped("keeps its rows through a's cleanup", () =>
    Effect.gen(function*() {
      const { customer, tender, profile } = yield* customerWithEverything
      yield* waitUntil("a has created its customer", Effect.map(runCustomers, (n) => n === 2))
      yield* DbAssert.exactly("tender_matches", customer, [{ tenderExternalId: tender.externalId }])
      yield* waitUntil("a has cleaned up", Effect.map(runCustomers, (n) => n === 1))
      // a's release ran: b's rows must all still be here
      yield* DbAssert.exactly("alert_profiles", customer, [{ name: profile.name }])
      yield* DbAssert.exactly("tender_matches", customer, [{ tenderExternalId: tender.externalId }])
      yield* DbAssert.exactly("notifications", customer, [{ tenderExternalId: tender.externalId }])
    }))
})
