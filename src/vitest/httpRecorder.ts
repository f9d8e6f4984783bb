/**
 * Setup file of the `workflow-live` project: installs the run's HTTP recorder (live, record or replay)
 * and its ledger client in each test file's worker, keys every call to the test that makes it, and
 * fails a test whose calls could not be answered (no recording, a connection that escaped replay) or
 * were refused by the budget, even when the code under test swallowed the error.
 */
import type { RunnerTestCase, RunnerTestSuite } from "vitest"
import { afterAll, afterEach, beforeAll, beforeEach, inject } from "vitest"
import type * as HttpRecorder from "../HttpRecorder.js"
import { prebuiltRecorder } from "./prebuiltRecorder.js"

// the key without the module (checked against it by the type): see `loading` below
const provideKey: typeof HttpRecorder.provideKey = "workflowLiveHttp"

// `describe > test`, the name a cassette keys the test's calls under
const nameOf = (test: RunnerTestCase): string => {
  const names: Array<string> = [test.name]
  for (let suite: RunnerTestSuite | undefined = test.suite; suite !== undefined && suite !== test.file; suite = suite.suite) {
    names.unshift(suite.name)
  }
  return names.join(" > ")
}

/**
 * The recorder as the CLI's build prebuilt it, when it is as new as its sources; else, or when it does not
 * load (a file of it removed by hand), from the sources.
 */
const loadRecorder = (): Promise<typeof HttpRecorder> => {
  const sources = () => import("../HttpRecorder.js")
  const prebuilt = prebuiltRecorder(new URL("../../", import.meta.url))
  return prebuilt === undefined ? sources() : (import(/* @vite-ignore */ prebuilt.href) as Promise<typeof HttpRecorder>).catch(sources)
}

const provided = inject(provideKey)
if (provided !== undefined) {
  // not awaited here: Vitest goes on to collect the test file while the recorder loads (from the sources,
  // its modules are transformed on the main thread meanwhile); it is awaited in beforeAll, which also
  // reports a failed load
  const loading = loadRecorder()
  loading.catch(() => undefined)
  let recorder: HttpRecorder.Recorder | undefined
  beforeAll(async (file) => {
    recorder = await (await loading).install(provided, file.file.filepath)
  })
  beforeEach((context) => {
    recorder?.beginTest(nameOf(context.task))
  })
  afterEach(async () => {
    const errors = (await recorder?.endTest()) ?? []
    if (errors.length > 0) throw errors[0]
  })
  afterAll(async () => {
    await recorder?.close()
  })
}
