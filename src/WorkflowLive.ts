/**
 * The one layer a live suite needs: the env contract, the DSN guard, the lane's identity-checked
 * connection, the run ID and the fixture builders. A new suite is
 *
 *     layer(WorkflowLive.layer)("my workflow", (it) => { it.scoped("...", () => ...) })
 *
 * and nothing else.
 */
import type { SqlClient } from "@effect/sql"
import type { PgClient } from "@effect/sql-pg"
import type { ConfigError } from "effect/ConfigError"
import { Layer } from "effect"
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

/** The suite's services on a given verified target (tests of the harness use their own databases). */
export const layerFrom = <E, R>(
  target: Layer.Layer<DsnGuard.VerifiedTarget, E, R>,
  options: Options = {}
): Layer.Layer<Services, E | LaneDatabase.LaneDatabaseError | RunId.RunIdError | ConfigError, R> =>
  Fixtures.layer(options.fixtures).pipe(
    Layer.provideMerge(options.runId === undefined ? RunId.layerConfig : RunId.layer(options.runId)),
    Layer.provideMerge(LaneDatabase.layer(options.database)),
    Layer.provideMerge(target)
  )

/** The layer every live suite uses: config and guard from the environment, lane connection, run ID, fixtures. */
export const layer: Layer.Layer<
  Services,
  DsnGuard.DsnGuardError | ConfigError | LaneDatabase.LaneDatabaseError | RunId.RunIdError
> = layerFrom(DsnGuard.layerConfig())
