import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { DbAssert, Fixtures, WorkflowLive } from "@tenderbot/workflow-live"

layer(WorkflowLive.layer)("my workflow", (it) => {
  it.scoped("writes nothing for a customer without matching tenders", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      const profile = yield* fixtures.alertProfile(customer, { keywords: ["bridge"], regions: ["DE21"] })
      // ...run the workflow under test for `customer` here...
      yield* DbAssert.exactly("alert_profiles", customer, [{ name: profile.name, keywords: ["bridge"] }])
      yield* DbAssert.exactly("tender_matches", customer, [])
      expect(customer.externalId.startsWith(`wl-${fixtures.runId}-`)).toBe(true)
    }))
})
// end of the README example: README.md "Composing layers in a new suite" shows this file up to here

import { readFileSync } from "node:fs"
import { describe, it } from "vitest"

describe("the README example", () => {
  it("is this file, verbatim", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")
    const section = readme.slice(readme.indexOf("## Composing layers in a new suite"))
    const shown = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    const source = readFileSync(new URL(import.meta.url), "utf8")
    expect(shown).toBeDefined()
    expect(source.slice(0, source.indexOf("// end of the README example"))).toBe(shown)
  })
})
