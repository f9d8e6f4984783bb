import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"

const Lane = LaneDatabase.layer().pipe(Layer.provideMerge(DsnGuard.layerConfig()))

layer(Lane)("the lane's connection", (it) => {
  it.effect("is on the workflow database", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ db: string }>`SELECT current_database() AS db`
      expect(rows[0]?.db).toBe("tenderbot_workflow_test")
    }))
})
