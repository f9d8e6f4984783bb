// The workflow under test writes rows no fixture owns (its own external ids, not the run's keys), and
// the test does not adopt them: the leak check must name them and the sweep remove them.
import { SqlClient } from "@effect/sql"
import { expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixtures from "../../../src/Fixtures.js"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

layer(WorkflowLive.layer)("unkeyed rows", (it) => {
  it.scoped("a job stores tenders under the source's own ids", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      yield* fixtures.customer()
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ id: string }>`INSERT INTO tenders (external_id, title, buyer, published_at)
        VALUES ('ted-unkeyed-1', 'Bridge repair', 'City of Passau', now()),
               ('ted-unkeyed-2', 'Road resurfacing', 'City of Passau', now()) RETURNING id`
      expect(rows).toHaveLength(2)
    }))
})
