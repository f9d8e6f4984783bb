// A live file that cannot even be loaded: the lane must fail, whatever the other files did.
import { it } from "@effect/vitest"

throw new Error("intended import failure: a module this suite needs is broken")

it("is never collected", () => {})
