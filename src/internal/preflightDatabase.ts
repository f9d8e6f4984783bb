/**
 * Preflight's database rows: the guard's verdict, then what the server must offer the reset (version,
 * CREATEDB, extensions, free connections) and the identity of the lane's connection. Every database
 * problem is a failed row; none is skippable (see `preflightReport.isSkippable`).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Either, Scope } from "effect"
import { classify, type ConnectionProblem, fixFor } from "./pgError.js"
import type { Check } from "./preflightProbes.js"
import { fail, notChecked, type Outcome, pass, type Reason } from "./preflightReport.js"
import { describeInventory, inventorySql, toInventory } from "./databaseInventory.js"
import { isManaged } from "./harnessDatabases.js"
import { baselineSetting, confirmDropVariable } from "./variables.js"

/** What the lane needs from the PostgreSQL server behind `TENDERBOT_WORKFLOW_DB_DSN`. */
export interface DatabaseRequirement {
  /** The lowest major version accepted (`DROP DATABASE ... WITH (FORCE)` needs 13). */
  readonly minServerVersion: number
  /** The reset drops and creates the workflow database, which needs CREATEDB (or superuser). */
  readonly createdb: boolean
  /** Extensions the migrations create; they must be available on the server. */
  readonly extensions: ReadonlyArray<string>
  /** Free connections the lane needs: its pool plus the reset's maintenance connection. */
  readonly connections: number
  /** The database preflight and reset connect to while the workflow database may not exist. Default `postgres`. */
  readonly maintenanceDatabase?: string | undefined
  /** Default 10 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

/** The guard's accepted target, as far as these rows need it. */
export interface Target {
  readonly database: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly masked: string
  readonly tls: string
}

/** The guard's refusal, as far as these rows need it. */
export interface Refusal {
  readonly reason: string
  readonly message: string
  readonly detail: string
  readonly example: string
}

/** What the rows are given: the verdict, and how to reach the server and the lane's connection. */
export interface Inputs {
  readonly verdict: Either.Either<Target, Refusal>
  readonly variable: string
  /** The DSN variable has its own env row, which reports it missing. */
  readonly dsnCovered: boolean
  readonly developmentDsnSet: boolean
  /** A connection to a database of the target's server (closed with the scope). */
  readonly open: (database: string, timeout: Duration.Duration) => Effect.Effect<SqlClient.SqlClient, unknown, Scope.Scope>
  /** Opens the lane's own connection and checks its identity. */
  readonly laneIdentity: (timeout: Duration.Duration) => Effect.Effect<Outcome>
  /** `WORKFLOW_LIVE_CONFIRM_DROP`, when set: an unmarked workflow database of that name may be dropped. */
  readonly confirmDrop: string | undefined
}

/** A connection problem as a row reason. */
export const databaseProblem = (problem: ConnectionProblem): Reason => problem === "other" ? "database-error" : problem

const guardCheck = (inputs: Inputs): Check => ({
  check: "database guard",
  kind: "database",
  run: Effect.succeed(Either.match(inputs.verdict, {
    onRight: (target) => pass(`accepted ${target.masked} (database \`${target.database}\`; TLS: ${target.tls})`),
    onLeft: (error) =>
      error.reason !== "missing-dsn"
        ? fail(
          "guard-refused",
          [error.message.split("\n")[0]!, error.detail].filter((s) => s !== "").join(" "),
          `export ${inputs.variable}='${error.example}'`
        )
        // one problem, one failed row: the env row reports the variable missing (and why TENDERBOT_DB_DSN,
        // when set, is not borrowed)
        : inputs.dsnCovered
        ? notChecked(`no DSN: ${inputs.variable} is not set`, `fix env ${inputs.variable} first`)
        : fail("missing-variable", `${inputs.variable} is not set. ${error.detail}`, `export ${inputs.variable}='${error.example}'`)
  }))
})

const rowNames = (requirement: DatabaseRequirement): ReadonlyArray<string> => [
  "database server",
  "database CREATEDB",
  ...(requirement.extensions.length > 0 ? ["database extensions"] : []),
  "database connections",
  "database identity"
]

type OnServer = (
  f: (sql: SqlClient.SqlClient) => Effect.Effect<Outcome, unknown>,
  reportsConnection?: boolean
) => Effect.Effect<Outcome>

/** Runs row queries on one shared maintenance connection; the server row reports a failed connection. */
const onServer = (inputs: Inputs, target: Target, maintenance: string, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const where = `${target.host}:${target.port}`
    const failed = (cause: unknown, what: string): Outcome => {
      const classified = classify(cause)
      return fail(
        databaseProblem(classified.problem),
        `${what}: ${classified.detail}`,
        fixFor(classified.problem, where, target.user, maintenance, classified.code)
      )
    }
    const connection = yield* Effect.cached(
      Effect.mapError(inputs.open(maintenance, timeout), (cause) => failed(cause, `cannot connect to \`${maintenance}\` on ${where}`))
    )
    const scope = yield* Effect.scope
    const run: OnServer = (f, reportsConnection = false) =>
      connection.pipe(
        Effect.mapError((outcome) =>
          reportsConnection
            ? outcome
            : notChecked(`not checked: cannot connect to \`${maintenance}\``, "fix the database server row first")
        ),
        Effect.flatMap((sql) =>
          f(sql).pipe(Effect.catchAll((cause) => Effect.succeed(failed(cause, `query on \`${maintenance}\` failed`))))
        ),
        Effect.merge,
        Effect.provideService(Scope.Scope, scope)
      )
    return run
  })

const serverCheck = (run: OnServer, requirement: DatabaseRequirement, target: Target, variable: string): Check => ({
  check: "database server",
  kind: "database",
  run: run((sql) =>
    sql<{ num: number; version: string }>`
      SELECT current_setting('server_version_num')::int AS num, current_setting('server_version') AS version
    `.pipe(Effect.map(([row]) => {
      const where = `${target.host}:${target.port}`
      return Math.floor(row!.num / 10000) >= requirement.minServerVersion
        ? pass(`PostgreSQL ${row!.version} on ${where}`)
        : fail(
          "server-too-old",
          `PostgreSQL ${row!.version} on ${where}, the lane needs ${requirement.minServerVersion} or later`,
          `upgrade the server to PostgreSQL ${requirement.minServerVersion}+ or point ${variable} at a newer one`
        )
    })), true)
})

// the lane records its run's baseline as a database-level setting; PostgreSQL 15+ lets only a superuser,
// or a role granted SET on it, set a placeholder parameter there
const createdbCheck = (run: OnServer, requirement: DatabaseRequirement, target: Target): Check => ({
  check: "database CREATEDB",
  kind: "database",
  run: run((sql) =>
    Effect.gen(function*() {
      const [row] = yield* sql<{ createdb: boolean; superuser: boolean; name: string; num: number }>`
        SELECT rolcreatedb AS createdb, rolsuper AS superuser, rolname AS name,
          pg_catalog.current_setting('server_version_num')::int AS num
        FROM pg_catalog.pg_roles WHERE rolname = current_user
      `
      if (!requirement.createdb) return pass("not required")
      if (row?.superuser) return pass(`\`${row.name}\` is a superuser`)
      const name = row?.name ?? target.user
      if (!row?.createdb) {
        return fail(
          "no-createdb",
          `\`${name}\` has neither CREATEDB nor superuser: the reset cannot drop and create the database`,
          `as a superuser: ALTER ROLE "${name}" CREATEDB;`
        )
      }
      if (row.num < 150000) return pass(`\`${name}\` has CREATEDB`)
      // called only on 15+, where the function exists
      const [may] = yield* sql<{ set: boolean }>`SELECT pg_catalog.has_parameter_privilege(${baselineSetting}, 'SET') AS set`
      return may?.set
        ? pass(`\`${name}\` has CREATEDB and may set ${baselineSetting}`)
        : fail(
          "no-baseline-privilege",
          `\`${name}\` has CREATEDB but may not set ${baselineSetting} on the database, where the lane records ` +
            `its run's baseline (PostgreSQL 15+ allows that to a superuser or a role granted it)`,
          `as a superuser: GRANT SET ON PARAMETER ${baselineSetting} TO "${name}";`
        )
    }))
})

const extensionsCheck = (run: OnServer, requirement: DatabaseRequirement): Check => ({
  check: "database extensions",
  kind: "database",
  run: run((sql) =>
    sql<{ name: string }>`SELECT name FROM pg_available_extensions WHERE name IN ${sql.in(requirement.extensions)}`.pipe(
      Effect.map((rows) => {
        const missing = requirement.extensions.filter((name) => !rows.some((row) => row.name === name))
        return missing.length === 0
          ? pass(`available: ${requirement.extensions.join(", ")}`)
          : fail(
            "missing-extension",
            `not available on the server: ${missing.join(", ")}`,
            `install them on the server (e.g. the postgresql-contrib or postgresql-<version>-<name> package)`
          )
      })
    ))
})

const connectionsCheck = (run: OnServer, requirement: DatabaseRequirement): Check => ({
  check: "database connections",
  kind: "database",
  run: run((sql) =>
    // preflight's own connection goes away before the lane opens its own: it is not counted as used
    sql<{ max: number; reserved: number; used: number }>`
      SELECT current_setting('max_connections')::int AS max,
             current_setting('superuser_reserved_connections')::int AS reserved,
             (SELECT count(*)::int FROM pg_stat_activity
               WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) AS used
    `.pipe(Effect.map(([row]) => {
      const free = row!.max - row!.reserved - row!.used
      const found = `${free} free of max_connections ${row!.max} (${row!.used} in use by others, ${row!.reserved} reserved); ` +
        `the lane needs ${requirement.connections}`
      return free >= requirement.connections
        ? pass(found)
        : fail(
          "not-enough-connections",
          found,
          `close idle connections (see pg_stat_activity) or raise max_connections in postgresql.conf`
        )
    })))
})

/**
 * What the reset would say of an existing workflow database without the harness's marker: one that holds
 * anything is refused there (unless confirmed by name), so preflight says it first. Read on a catalog-only
 * connection to it, like the reset's inventory.
 */
const standing = (inputs: Inputs, target: Target, timeout: Duration.Duration, comment: string | null): Effect.Effect<Outcome | undefined> =>
  isManaged(comment) || inputs.confirmDrop === target.database
    ? Effect.succeed(undefined)
    : inputs.open(target.database, timeout).pipe(
      Effect.flatMap((sql) => sql.unsafe<{ kind: string; name: string; total: number }>(inventorySql(5))),
      Effect.map((rows): Outcome | undefined => {
        const found = toInventory(rows)
        return found.total === 0 ? undefined : fail(
          "unmarked-database-not-empty",
          `\`${target.database}\` exists without the harness's marker and holds ${describeInventory(found)}: the ` +
            `reset would refuse to drop it`,
          `if everything in it may go: export ${confirmDropVariable}=${target.database}; otherwise point the lane at another server`
        )
      }),
      // unreadable here: the identity check reports the connection, the reset decides
      Effect.orElseSucceed(() => undefined),
      Effect.scoped
    )

const identityCheck = (run: OnServer, inputs: Inputs, target: Target, timeout: Duration.Duration): Check => ({
  check: "database identity",
  kind: "database",
  run: run((sql) =>
    sql<{ present: boolean; comment: string | null }>`
      SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = ${target.database}) AS present,
        (SELECT pg_catalog.shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database WHERE datname = ${target.database}) AS comment
    `.pipe(
      Effect.flatMap(([row]) =>
        row?.present
          ? inputs.laneIdentity(timeout).pipe(
            Effect.flatMap((outcome) =>
              // a concurrent reset dropping the database (3D000, or our session terminated by its FORCE)
              outcome.reason === "database-missing" || outcome.reason === "session-terminated" || /terminat/i.test(outcome.found)
                ? Effect.succeed(pass(`\`${target.database}\` was dropped meanwhile (a reset is running?); the reset creates it`))
                : outcome.status !== "pass"
                ? Effect.succeed(outcome)
                : Effect.map(standing(inputs, target, timeout, row.comment), (refused) => refused ?? outcome)
            )
          )
          : Effect.succeed(pass(
            `\`${target.database}\` does not exist yet: the reset creates it (identity is checked again ` +
              `on the lane's connection after the reset)`
          ))
      )
    ))
})

/** The database rows, in their order; without a DSN the guard accepts, every other row is not checked. */
export const databaseChecks = (
  requirement: DatabaseRequirement,
  inputs: Inputs
): Effect.Effect<ReadonlyArray<Check>, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (Either.isLeft(inputs.verdict)) {
      return [
        guardCheck(inputs),
        ...rowNames(requirement).map((check): Check => ({
          check,
          kind: "database",
          run: Effect.succeed(notChecked("not checked: no DSN the guard accepts", "fix the database guard first"))
        }))
      ]
    }
    const target = inputs.verdict.right
    const timeout = Duration.decode(requirement.timeout ?? Duration.seconds(10))
    const run = yield* onServer(inputs, target, requirement.maintenanceDatabase ?? "postgres", timeout)
    return [
      guardCheck(inputs),
      serverCheck(run, requirement, target, inputs.variable),
      createdbCheck(run, requirement, target),
      ...(requirement.extensions.length > 0 ? [extensionsCheck(run, requirement)] : []),
      connectionsCheck(run, requirement),
      identityCheck(run, inputs, target, timeout)
    ]
  })
