// A suite whose layer cannot be built: its tests never run, and they are errors, not skips.
import { layer } from "@effect/vitest"
import { Data, Effect, Layer } from "effect"
import * as WorkflowLive from "../../../src/WorkflowLive.js"

class JobConfigError extends Data.TaggedError("JobConfigError")<{ readonly message: string }> {}

const Broken = Layer.fail(new JobConfigError({ message: "intended layer failure: the job's config is missing" }))

layer(Layer.merge(WorkflowLive.layer, Broken))("broken layer", (it) => {
  it.scoped("would use the job", () => Effect.void)
  it.scoped("would use it again", () => Effect.void)
})
