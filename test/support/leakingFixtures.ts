/**
 * A fixture double with the bug the leak check exists for: its builders create rows in a scope that
 * is never closed, so their release never runs.
 */
import { Effect, Layer, Scope } from "effect"
import * as Fixtures from "../../src/Fixtures.js"

/** Runs a builder in a scope nobody closes: the rows outlive the test. */
const leak = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E> =>
  Effect.flatMap(Scope.make(), (orphan) => Scope.extend(effect, orphan))

/** Replaces `Fixtures` with a version whose `customer` and `alertProfile` never clean up. */
export const layer: Layer.Layer<Fixtures.Fixtures, never, Fixtures.Fixtures> = Layer.effect(
  Fixtures.Fixtures,
  Effect.map(Fixtures.Fixtures, (real): Fixtures.Fixtures => ({
    ...real,
    customer: (overrides) => leak(real.customer(overrides)),
    alertProfile: (customer, overrides) => leak(real.alertProfile(customer, overrides))
  }))
)
