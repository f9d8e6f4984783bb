/**
 * The one layer a live suite needs: the env contract, the DSN guard, the lane's identity-checked
 * connection, the run ID, the fixture builders, and the real clock. A new suite is
 *
 *     layer(WorkflowLive.layer)("my workflow", (it) => { it.scoped("...", () => ...) })
 *
 * and nothing else.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as PgClient from "@effect/sql-pg/PgClient"
import type { ConfigError } from "effect/ConfigError"
import { Clock, Layer } from "effect"
import * as DsnGuard from "./DsnGuard.js"
import * as Fixtures from "./Fixtures.js"
import * as LaneDatabase from "./LaneDatabase.js"
import * as RunId from "./RunId.js"

/** Everything a live suite can ask for. */
export type Services =
  | Fixtures.Fixtures
  | RunId.RunId
  | SqlClient.SqlClient
  | PgClient.PgClient
  | DsnGuard.VerifiedTarget

/** Options for {@link layerFrom}. */
export interface Options {
  /** Use this run ID instead of `WORKFLOW_LIVE_RUN_ID` (or a generated one). */
  readonly runId?: string | undefined
  readonly database?: LaneDatabase.Options | undefined
  readonly fixtures?: Fixtures.Options | undefined
}

/**
 * The run's ID: the one the lane provided to this Vitest worker (`inject("workflowLiveRunId")`), else
 * `WORKFLOW_LIVE_RUN_ID`, else a generated one.
 */
const runIdLayer: Layer.Layer<RunId.RunId, RunId.RunIdError | ConfigError> = RunId.layerConfig

/**
 * Live suites run on the real clock. `layer(L)` from `@effect/vitest` provides Effect's TestClock to
 * every `it.effect` / `it.scoped`, on which a workflow's `Effect.sleep`, timeout or retry schedule would
 * wait forever; the live clock set here, in the suite's own layer, takes its place.
 */
const realClock: Layer.Layer<never> = Layer.setClock(Clock.make())

/** The suite's services on a given verified target (tests of the harness use their own databases). */
export const layerFrom = <E, R>(
  target: Layer.Layer<DsnGuard.VerifiedTarget, E, R>,
  options: Options = {}
): Layer.Layer<Services, E | LaneDatabase.LaneDatabaseError | RunId.RunIdError | ConfigError, R> =>
  Fixtures.layer(options.fixtures).pipe(
    Layer.provideMerge(options.runId === undefined ? runIdLayer : RunId.layer(options.runId)),
    Layer.provideMerge(LaneDatabase.layer(options.database)),
    Layer.provideMerge(target),
    Layer.provideMerge(realClock)
  )

/** The layer every live suite uses: config and guard from the environment, lane connection, run ID, fixtures. */
export const layer: Layer.Layer<
  Services,
  DsnGuard.DsnGuardError | ConfigError | LaneDatabase.LaneDatabaseError | RunId.RunIdError
> = layerFrom(DsnGuard.layerConfig())
