// Written exactly as the README shows a suite (`layer(WorkflowLive.layer)` + `it.scoped`, no options): its
// workflow retries on a schedule, sleeps and times out, and must finish on the real clock, not hang on
// Effect's TestClock until Vitest's timeout.
import { expect, layer } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import * as Fixtures from "../../../src/Fixtures.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

layer(WorkflowLive.layer)("real clock", (it) => {
  it.scoped("a workflow that retries, sleeps and times out finishes in real time", () =>
    Effect.gen(function*() {
      yield* (yield* Fixtures.Fixtures).customer()
      const started = Date.now()
      let attempts = 0
      const flaky = Effect.suspend(() => ++attempts < 3 ? Effect.fail("busy") : Effect.succeed("done"))
      expect(yield* flaky.pipe(Effect.retry(Schedule.spaced("100 millis")))).toBe("done")
      yield* Effect.sleep("200 millis")
      const slow = yield* Effect.sleep("10 seconds").pipe(Effect.timeoutOption("150 millis"))
      expect(Option.isNone(slow)).toBe(true)
      const elapsed = Date.now() - started
      expect(attempts).toBe(3)
      expect(elapsed).toBeGreaterThanOrEqual(500)
      expect(elapsed).toBeLessThan(3_000)
    }), 5_000)
})
