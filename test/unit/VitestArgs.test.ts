// The arguments after `--` are checked by Vitest's own parser before anything runs: what Vitest's CLI
// would refuse is refused here, so the lane never resets the database for a command line that cannot run.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as VitestArgs from "../../src/vitest/args.js"

describe("VitestArgs.parse", () => {
  it.effect("refuses an option that takes a value when it has none, wherever it stands", () =>
    Effect.gen(function*() {
      for (const [raw, rawName] of [
        [["--shard"], "--shard <shards>"],
        [["--config"], "-c, --config <path>"],
        [["-t"], "-t, --testNamePattern <pattern>"],
        [["--testNamePattern", "--bail", "1"], "-t, --testNamePattern <pattern>"],
        [["--reporter"], "--reporter <name>"],
        [["file.test.ts", "--retry"], "--retry <times>"],
        [["--config="], "-c, --config <path>"],
        [["--reporter=", "smoke"], "--reporter <name>"]
      ] as const) {
        const error = yield* Effect.flip(VitestArgs.parse(raw))
        expect(error.reason, raw.join(" ")).toBe("invalid-vitest-arguments")
        expect(error.message).toContain(`option \`${rawName}\` value is missing`)
      }
    }))

  it.effect("takes options with their values, inline or after a space, and file filters", () =>
    Effect.gen(function*() {
      const parsed = yield* VitestArgs.parse(["-t", "tender", "--shard=1/2", "--reporter", "dot", "smoke"])
      expect(parsed.filters).toEqual(["smoke"])
      expect(parsed.options).toMatchObject({ testNamePattern: "tender", shard: "1/2", reporter: ["dot"] })
    }))

  it.effect("refuses what the lane decides: the project, the pool (the live workers report to the lane's own thread)", () =>
    Effect.gen(function*() {
      for (const raw of [["--project", "unit"], ["--pool=forks"], ["--pool", "vmForks"]]) {
        const error = yield* Effect.flip(VitestArgs.parse(raw))
        expect(error.reason, raw.join(" ")).toBe("unsupported-vitest-option")
      }
    }))
})
