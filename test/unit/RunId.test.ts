import { beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import * as RunId from "../../src/RunId.js"
import { currentTestOrFile } from "../../src/internal/currentTest.js"

describe("RunId", () => {
  it.effect("accepts the documented format and refuses anything else with the format in the message", () =>
    Effect.gen(function*() {
      for (const good of ["ci_4711", "20260212t153000_k3f9", "a", "x".repeat(32)]) {
        expect(yield* RunId.decode(good)).toBe(good)
      }
      for (const bad of ["", "CI_1", "ci-1", "ci__1", "_ci", "ci_", "ci 1", "ci;drop", "é", "x".repeat(33), "a%b"]) {
        const error = yield* Effect.flip(RunId.decode(bad))
        expect(error.reason, bad).toBe("invalid-run-id")
        expect(error.message).toContain("lower-case letters a-z and digits 0-9")
        expect(error.message).toContain("WORKFLOW_LIVE_RUN_ID")
      }
    }))

  it("generates IDs in the documented format, distinct per call", () => {
    const now = new Date("2026-02-12T15:30:00.123Z")
    const a = RunId.generate(now)
    const b = RunId.generate(now)
    expect(a).toMatch(/^20260212t153000_[a-z0-9]{4}$/)
    expect(RunId.pattern.test(a)).toBe(true)
    expect(a.length).toBeLessThanOrEqual(RunId.maxLength)
    expect(a === b && a === RunId.generate(now)).toBe(false)
  })

  it("derives the same key from the same run, test and sequence, and another key otherwise", () => {
    const run = "ci_4711" as RunId.RunIdString
    const key = RunId.key(run, "test/workflow_live/x.test.ts > suite > test", 3)
    expect(key).toBe(RunId.key(run, "test/workflow_live/x.test.ts > suite > test", 3))
    expect(key).toMatch(/^wl-ci_4711-[0-9a-f]{8}-3$/)
    expect(key.startsWith(RunId.prefix(run))).toBe(true)
    expect(RunId.key(run, "test/workflow_live/x.test.ts > suite > other", 3)).not.toBe(key)
    expect(RunId.key(run, "test/workflow_live/x.test.ts > suite > test", 4)).not.toBe(key)
    expect(RunId.key("ci_4712" as RunId.RunIdString, "test/workflow_live/x.test.ts > suite > test", 3)).not.toBe(key)
    // a run ID never matches another run's prefix: the separator follows it
    expect(RunId.key("ci_47" as RunId.RunIdString, "t", 1).startsWith(RunId.prefix(run))).toBe(false)
  })

  it.effect("resolves from WORKFLOW_LIVE_RUN_ID, validates it, and generates one when unset", () =>
    Effect.gen(function*() {
      const withEnv = (env: Record<string, string>) =>
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
      expect(yield* RunId.resolve.pipe(withEnv({ WORKFLOW_LIVE_RUN_ID: "ci_99" }))).toBe("ci_99")
      const bad = yield* Effect.flip(RunId.resolve.pipe(withEnv({ WORKFLOW_LIVE_RUN_ID: "CI-99" })))
      expect(bad._tag).toBe("RunIdError")
      expect(bad.message).toContain("`CI-99`")
      expect(RunId.pattern.test(yield* RunId.resolve.pipe(withEnv({})))).toBe(true)
      expect(RunId.pattern.test(yield* RunId.resolve.pipe(withEnv({ WORKFLOW_LIVE_RUN_ID: "  " })))).toBe(true)
      const service = yield* RunId.RunId.pipe(Effect.provide(RunId.layerConfig), withEnv({ WORKFLOW_LIVE_RUN_ID: "ci_7" }))
      expect(service.key("t", 1)).toBe(RunId.key("ci_7" as RunId.RunIdString, "t", 1))
      const refused = yield* Effect.flip(Layer.build(RunId.layer("Nope")).pipe(Effect.scoped))
      expect(refused.message).toContain("RunId.layer")
    }))
})

describe("the identity fixture keys are made under", () => {
  let inHook: string | undefined
  beforeAll(() => {
    inHook = currentTestOrFile()
  })

  it("is the test, with its file, inside a test; the file outside one (a suite's layer, a hook)", () => {
    expect(currentTestOrFile()).toBe(
      "test/unit/RunId.test.ts > the identity fixture keys are made under > is the test, with its file, inside a test; the file outside one (a suite's layer, a hook)"
    )
    // two files' suite-wide fixtures, side by side in two workers, must not share keys
    expect(inHook).toBe("test/unit/RunId.test.ts > outside-a-test")
  })
})
