// A test that fails with the lane's secrets in its error and its console output (as a driver or HTTP
// client error that echoes a DSN, a URL or a header would): none may reach the lane's output or reports.
import { expect, it } from "@effect/vitest"

it("fails with an error that quotes the DSN and the API keys", () => {
  const token = process.env.WL_PROBE_SESSION_TOKEN!
  const quoted = `could not reach ${process.env.TENDERBOT_WORKFLOW_DB_DSN} with key ${process.env.TENDERBOT_LLM_API_KEY} ` +
    `and ${process.env.WL_PROBE_ACME_API_KEY}; token ${JSON.stringify(JSON.stringify({ token }))} ` +
    `${new URLSearchParams({ token }).toString()} ${encodeURI(token)}`
  console.log(`console: ${quoted}`)
  expect(quoted, quoted).toBe("something else")
})
