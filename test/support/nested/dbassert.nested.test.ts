// Run by test/integration/DbAssert.test.ts: assertions that fail on purpose, so the parent can read what a
// person sees (headline, compared fields only, the first stack frame on this file's line).
import { layer } from "@effect/vitest"
import { Effect } from "effect"
import * as DbAssert from "../../../src/DbAssert.js"
import * as Fixtures from "../../../src/Fixtures.js"
import { Suite } from "./suite.js"

layer(Suite, { excludeTestServices: true })("dbassert", (it) => {
  it.scoped("a field differs", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      yield* fixtures.alertProfile(customer, { name: "Bridges", keywords: ["bridge"], regions: ["DE21"], cpvCodes: ["45221111"] })
      yield* DbAssert.exactly("alert_profiles", customer, [{ name: "Bridges", keywords: ["tunnel"] }]) // line: field-differs
    }))

  it.scoped("the customer row itself", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer({ name: "Acme Bau" })
      yield* DbAssert.exactly("customers", customer, [{ externalId: customer.externalId, name: "Acme Bau" }])
      yield* DbAssert.exactly("customers", customer, [{ name: "Other GmbH" }]) // line: customer-differs
    }))
})
