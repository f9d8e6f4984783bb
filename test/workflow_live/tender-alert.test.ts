// The first live suite: the sample tender-alert job against the tender source and LLM APIs named by
// TENDERBOT_TENDERS_API_URL / TENDERBOT_LLM_BASE_URL / TENDERBOT_LLM_API_KEY. The expected tenders are
// the source stand-in's fixed data (src/StandIns.ts), which is what this repository's lane runs against.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as TenderAlert from "../../examples/tender-alert/TenderAlert.js"
import * as DbAssert from "../../src/DbAssert.js"
import * as Fixtures from "../../src/Fixtures.js"
import * as WorkflowLive from "../../src/WorkflowLive.js"

const since = new Date("2026-01-01T00:00:00Z")

layer(WorkflowLive.layer)("tender-alert job", (it) => {
  it.scoped("matches new tenders to the customer's profile, summarises each via the LLM and notifies once", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      const profile = yield* fixtures.alertProfile(customer, {
        keywords: ["asphalt", "resurfacing", "road"],
        cpvCodes: ["45233"],
        regions: ["DE21", "DE22"],
        minValueEur: 50000
      })
      // a second customer of the same test: the job must not write for it
      const bystander = yield* fixtures.customer()
      yield* fixtures.alertProfile(bystander)

      const first = yield* TenderAlert.run({ customerId: customer.id, since }).pipe(Effect.provide(TenderAlert.layer))
      // the job stores tenders under the source's own ids: they are the test's to remove, like its fixtures
      yield* fixtures.adopt("tenders", first.tendersStored)
      expect(first).toMatchObject({ tendersFetched: 5, matchesWritten: 2, notificationsWritten: 2 })
      expect(first.tendersStored).toHaveLength(2)

      const matches = yield* DbAssert.exactly("tender_matches", customer, [
        { tenderExternalId: "ted-2026-000101", alertProfileName: profile.name, score: 1 },
        { tenderExternalId: "ted-2026-000102", alertProfileName: profile.name, score: 0.6667 }
      ])
      for (const match of matches) {
        expect(match.summary?.trim().length ?? 0, match.tenderExternalId).toBeGreaterThan(0)
      }
      yield* DbAssert.exactly("notifications", customer, [
        {
          tenderExternalId: "ted-2026-000101",
          channel: "email",
          status: "pending",
          subject: "New tender: Resurfacing of the B 13 between Freising and Moosburg"
        },
        {
          tenderExternalId: "ted-2026-000102",
          channel: "email",
          status: "pending",
          subject: "New tender: Asphalt repair of municipal roads in Landshut"
        }
      ])
      yield* DbAssert.exactly("tender_matches", bystander, [])
      yield* DbAssert.exactly("notifications", bystander, [])

      // the same tenders again are not new: nothing written, no summary asked for
      const again = yield* TenderAlert.run({ customerId: customer.id, since }).pipe(Effect.provide(TenderAlert.layer))
      expect(again).toEqual({ tendersFetched: 5, tendersStored: first.tendersStored, matchesWritten: 0, notificationsWritten: 0 })
      yield* DbAssert.exactly("notifications", customer, [
        { tenderExternalId: "ted-2026-000101" },
        { tenderExternalId: "ted-2026-000102" }
      ])
    }))
})
