import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { inject } from "vitest"
import { Effect, Layer } from "effect"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as RunId from "../../src/RunId.js"

const Lane = LaneDatabase.layer().pipe(Layer.provideMerge(DsnGuard.layerConfig()))

layer(Lane)("the lane's connection", (it) => {
  it.effect("is on the workflow database", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ db: string }>`SELECT current_database() AS db`
      expect(rows[0]?.db).toBe("tenderbot_workflow_test")
    }))
})

// a suite composed by hand from the public layers keys its rows under the lane's run, like WorkflowLive.layer
layer(RunId.layerConfig)("a worker of the lane", (it) => {
  it.effect("gets the lane's run ID from RunId.layerConfig", () =>
    Effect.gen(function*() {
      const { runId } = yield* RunId.RunId
      expect(runId).toBe(inject(RunId.provideKey))
    }))
})
