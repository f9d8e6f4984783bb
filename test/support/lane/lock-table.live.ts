// Passes, after leaving a session of its own that holds an ACCESS EXCLUSIVE lock on `notifications` for
// a while (as an open transaction a test or a person left would): the lane's leak check then waits on it.
import { expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"

const locker = `
const pg = require("pg")
const client = new pg.Client({ connectionString: process.env.TENDERBOT_WORKFLOW_DB_DSN, application_name: "wl-probe-locker" })
client.connect()
  .then(() => client.query("BEGIN"))
  .then(() => client.query("LOCK TABLE notifications IN ACCESS EXCLUSIVE MODE"))
  .then(() => { require("fs").writeFileSync(process.env.WORKFLOW_LIVE_PROBE_READY, "locked"); return client.query("SELECT pg_sleep(60)") })
  .catch(() => {})
  .finally(() => client.end().catch(() => {}))
`

it("leaves a lock on notifications behind, held by a session of its own", async () => {
  const child = spawn(process.execPath, ["-e", locker], { detached: true, stdio: "ignore", env: process.env })
  child.unref()
  for (let waited = 0; waited < 20_000 && !existsSync(process.env.WORKFLOW_LIVE_PROBE_READY!); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  expect(existsSync(process.env.WORKFLOW_LIVE_PROBE_READY!)).toBe(true)
})
