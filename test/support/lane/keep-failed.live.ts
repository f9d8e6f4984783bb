// With WORKFLOW_LIVE_KEEP=failed: the failing test's rows stay (its customer and profile, the tender the
// "workflow" wrote under its own id and matched to the profile, the match); the passing test's go.
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixtures from "../../../src/Fixtures.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

layer(WorkflowLive.layer)("keep", (it) => {
  it.scoped("passes with a customer", () =>
    Effect.gen(function*() {
      const customer = yield* (yield* Fixtures.Fixtures).customer()
      expect(customer.externalId).toMatch(/^wl-/)
    }))
  it.scoped("fails after the workflow matched a tender", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      const profile = yield* fixtures.alertProfile(customer)
      const sql = yield* SqlClient.SqlClient
      const [tender] = yield* sql<{ id: string }>`INSERT INTO tenders (external_id, title, buyer, published_at)
        VALUES ('ted-kept-1', 'Bridge repair', 'City of Passau', now()) RETURNING id`
      yield* sql`INSERT INTO tender_matches (alert_profile_id, tender_id, score) VALUES (${profile.id}, ${tender!.id}, 0.4)`
      yield* fixtures.adopt("tenders", [Number(tender!.id)])
      expect("score 0.4", "the intended failure").toBe("score 0.9")
    }))
})
