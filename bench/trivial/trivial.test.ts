// The floor for bench/unit.bench.ts: one trivial test, so the bench can show Vitest's own start-up cost.
import { expect, it } from "vitest"

it("adds", () => {
  expect(1 + 1).toBe(2)
})
