// Run by test/integration/FixturesLifecycle.test.ts: four of these tests fail on purpose, each in its
// own way; the parent asserts that no row of the run survives any of them.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { customerWithEverything, exists, Suite } from "./suite.js"

layer(Suite, { excludeTestServices: true })("lifecycle", (it) => {
  it.scoped("passes", () =>
    Effect.gen(function*() {
      const { customer } = yield* customerWithEverything
      expect(yield* exists(customer.id)).toBe(true)
    }))

  it.scoped("fails an assertion", () =>
    Effect.gen(function*() {
      const { customer } = yield* customerWithEverything
      expect(yield* exists(customer.id)).toBe(true)
      expect("intended assertion failure").toBe("a different value")
    }))

  it.scoped("fails with Effect.fail", () =>
    Effect.gen(function*() {
      const { customer } = yield* customerWithEverything
      expect(yield* exists(customer.id)).toBe(true)
      return yield* Effect.fail(new Error("intended Effect.fail"))
    }))

  it.scoped("dies with a defect", () =>
    Effect.gen(function*() {
      const { customer } = yield* customerWithEverything
      expect(yield* exists(customer.id)).toBe(true)
      return yield* Effect.die(new Error("intended defect"))
    }))

  it.scoped("times out", () =>
    Effect.gen(function*() {
      const { customer } = yield* customerWithEverything
      expect(yield* exists(customer.id)).toBe(true)
      return yield* Effect.never
    }), 1_500)
})
