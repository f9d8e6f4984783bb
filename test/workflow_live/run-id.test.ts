// A suite composed by hand from the public layers keys its rows under the lane's run, like WorkflowLive.layer.
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { inject } from "vitest"
import * as RunId from "../../src/RunId.js"

layer(RunId.layerConfig)("a worker of the lane", (it) => {
  it.effect("gets the lane's run ID from RunId.layerConfig", () =>
    Effect.gen(function*() {
      const { runId } = yield* RunId.RunId
      expect(runId).toBe(inject(RunId.provideKey))
    }))
})
