// What the reset and the leak check say when the server refuses them. A reset's lock-timeout says who it
// waited for; when that is the lane it runs in (a reset inside a suite the lane runs), it says so instead
// of blaming another lane.
import { describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as LeakCheck from "../../src/LeakCheck.js"

const timedOut = (applicationName: string) =>
  new DatabaseReset.DatabaseResetError({
    reason: "lock-timeout",
    database: "tenderbot_workflow_test",
    subject: "tenderbot_workflow_test",
    step: "lock",
    where: "127.0.0.1:5432",
    user: "postgres",
    detail: "",
    sessions: [{ pid: 4242, user: "postgres", applicationName, client: null, state: "idle", backendStart: null }],
    file: undefined
  }).message

describe("a reset that timed out waiting for the lock", () => {
  it("held by the lane of this very process: says the reset runs inside that lane, and to drop it", () => {
    const message = timedOut(`workflow-live lane running tests (pid ${process.pid})`)
    expect(message).toContain("the lane this reset runs in holds the reset lock")
    expect(message).toContain("remove the reset from the suite")
    expect(message).not.toContain("another lane")
  })

  it("held by another lane: names it as another lane's, as before", () => {
    const message = timedOut(`workflow-live lane running tests (pid ${process.pid + 1})`)
    expect(message).toContain("another lane is still running its tests")
    expect(message).toContain("pid 4242")
  })
})

describe("an identity mismatch", () => {
  const mismatch = (subject: string) =>
    new DatabaseReset.DatabaseResetError({
      reason: "identity-mismatch",
      database: "tenderbot_workflow_test",
      subject,
      step: "identity",
      where: "127.0.0.1:5432",
      user: "postgres",
      detail: "",
      sessions: [],
      file: undefined
    }).message

  it("after a swap, says what the swap's own read found, not what a fresh connection reported", () => {
    const message = mismatch("tenderbot_workflow_test (oid 16384, not the swapped-in spare's 16999)")
    expect(message).toContain("after the swap, `tenderbot_workflow_test` is not the spare the reset renamed into place")
    expect(message).not.toContain("a fresh connection")
  })

  it("on a fresh connection, names what it reported and the pooler to look for", () => {
    const message = mismatch("tenderbot")
    expect(message).toContain("a fresh connection to `tenderbot_workflow_test` reports current_database() = `tenderbot`")
    expect(message).toContain("pooler")
  })
})

describe("a leak check or sweep the server refused", () => {
  const error = (reason: "count-failed" | "baseline-failed", code: string | undefined, detail: string) =>
    new LeakCheck.LeakCheckError({ reason, runId: "r1", detail, code }).message

  it("is told apart by SQLSTATE, whatever language the server's words are in", () => {
    expect(error("count-failed", "55P03", "Sperrzeitüberschreitung")).toContain("another session held a lock on one of the tables")
    expect(error("baseline-failed", "42501", "keine Berechtigung")).toContain("GRANT SET ON PARAMETER workflow_live.run")
    // another cause keeps the general message
    expect(error("count-failed", "57014", "canceling statement due to lock timeout")).not.toContain("another session held a lock")
    expect(error("baseline-failed", undefined, "permission denied to set parameter")).not.toContain("GRANT SET ON PARAMETER")
  })
})
