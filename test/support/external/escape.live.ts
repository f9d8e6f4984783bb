// A call that goes around fetch, through node:http: counted in live, refused in replay.
import { get } from "node:http"
import { expect, it } from "vitest"

it("calls the tender API through node:http", async () => {
  const status = await new Promise<number>((resolve, reject) =>
    get(`${process.env.TENDERBOT_TENDERS_API_URL}/tenders?since=2026-02-05T00:00:00Z`, (response) => {
      response.resume()
      response.on("end", () => resolve(response.statusCode ?? 0))
    }).on("error", reject)
  )
  expect(status).toBe(200)
})
