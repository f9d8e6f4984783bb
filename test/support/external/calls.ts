/** What each parallel file does: wait for the other file, then send two calls to the tender stand-in. */
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { expect, it } from "vitest"

const waitForBoth = async (me: string, other: string): Promise<void> => {
  const dir = process.env.WL_BARRIER_DIR!
  writeFileSync(join(dir, me), "")
  const deadline = Date.now() + 20_000
  while (!existsSync(join(dir, other))) {
    if (Date.now() > deadline) throw new Error(`the other file (${other}) never started: the files did not run in parallel`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The test of one parallel file. */
export const twoCalls = (me: string, other: string): void => {
  it("sends two calls to the tender API", async () => {
    await waitForBoth(me, other)
    for (const n of [1, 2]) {
      const response = await fetch(`${process.env.TENDERBOT_TENDERS_API_URL}/tenders?since=2026-02-0${n}T00:00:00Z`)
      expect(response.status).toBe(200)
    }
  })
}
