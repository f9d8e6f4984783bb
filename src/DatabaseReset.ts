/**
 * The reset: drop, create (or clone the migrations' template), mark, migrate and identity-check the
 * workflow database. It only accepts a {@link DsnGuard.VerifiedTarget}, takes a server-wide advisory
 * lock per database, and may only ever drop two kinds of names: the target's database and its own
 * `<database>__tpl_<hash>` templates.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqlClient } from "@effect/sql"
import type { Connection } from "@effect/sql/SqlConnection"
import type { Statement } from "@effect/sql/Statement"
import { PgClient } from "@effect/sql-pg"
import { join } from "node:path"
import { Data, Duration, Effect, Layer, Option, Redacted, type Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as DsnGuard from "./DsnGuard.js"
import { classify, fixFor } from "./internal/pgError.js"
import { scrub } from "./internal/redact.js"
import * as LaneDatabase from "./LaneDatabase.js"
import * as Migrations from "./Migrations.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

/** The `application_name` of the reset's connections (with the OS pid, so a lock holder can be found). */
export const applicationName: string = `${LaneDatabase.applicationName} reset (pid ${process.pid})`

/** The comment that marks a database as created by the harness. */
export const marker = "workflow-live: managed by @tenderbot/workflow-live; every reset drops and recreates it"

const templateMarker = (hash: string): string => `workflow-live: template for migrations ${hash}; never connect to it`

const isMarked = (comment: string | null): boolean => comment !== null && comment.startsWith("workflow-live: managed")
const isTemplateMarked = (comment: string | null): boolean =>
  comment !== null && comment.startsWith("workflow-live: template")

/** First key of the reset's two-key advisory lock ("WLRS"); the second is `hashtext(<database>)`. */
export const lockNamespace = 0x574c5253

/** The steps of a reset, in the order they run. */
export type StepName = "guard" | "lock" | "drop" | "create" | "clone" | "migrate" | "template" | "identity"

/** One finished step: its duration and what it found or did. */
export interface Step {
  readonly name: StepName
  readonly millis: number
  readonly detail: string
}

/** A session connected to a database, as `pg_stat_activity` shows it. */
export interface Session {
  readonly pid: number
  readonly user: string | null
  readonly applicationName: string
  readonly client: string | null
  readonly state: string | null
  readonly backendStart: Date | null
}

/** What a reset did. */
export interface ResetResult {
  readonly database: string
  /** `warm`: cloned from the template; `cold`: created empty and migrated. */
  readonly mode: "warm" | "cold"
  readonly template: string
  /** Migration files applied after the create or clone (none on a warm reset). */
  readonly applied: ReadonlyArray<string>
  /** Sessions that were connected to the database and terminated by the drop. */
  readonly terminated: ReadonlyArray<Session>
  readonly steps: ReadonlyArray<Step>
  readonly millis: number
}

/** Why a reset failed. */
export type DatabaseResetReason =
  | "connection-refused"
  | "timeout"
  | "unknown-host"
  | "authentication-failed"
  | "tls"
  | "maintenance-database-missing"
  | "missing-createdb"
  | "not-owner"
  | "lock-timeout"
  | "database-in-use"
  | "migration-failed"
  | "unmarked-database-with-data"
  | "identity-mismatch"
  | "database-vanished"
  | "name-too-long"
  | "forbidden-drop"
  | "server-error"

/** Every reason, for docs and tests. */
export const reasons: ReadonlyArray<DatabaseResetReason> = [
  "connection-refused",
  "timeout",
  "unknown-host",
  "authentication-failed",
  "tls",
  "maintenance-database-missing",
  "missing-createdb",
  "not-owner",
  "lock-timeout",
  "database-in-use",
  "migration-failed",
  "unmarked-database-with-data",
  "identity-mismatch",
  "database-vanished",
  "name-too-long",
  "forbidden-drop",
  "server-error"
]

/** The reset did not complete; the message says what, why and how to fix it. */
export class DatabaseResetError extends Data.TaggedError("DatabaseResetError")<{
  readonly reason: DatabaseResetReason
  /** The workflow database. */
  readonly database: string
  /** The database the failing statement concerned (the template, the maintenance database, ...). */
  readonly subject: string
  readonly step: StepName
  /** `host:port` */
  readonly where: string
  readonly user: string
  /** The server's or driver's words, secrets scrubbed. */
  readonly detail: string
  /** Sessions involved: who holds the lock, who is connected. */
  readonly sessions: ReadonlyArray<Session>
  /** The failed migration file, for `migration-failed`. */
  readonly file: string | undefined
}> {
  override get message(): string {
    const head = (what: string, why: string, fix: string): string =>
      [
        `Reset of \`${this.database}\` on ${this.where} failed at step "${this.step}" (${this.reason}): ${what}`,
        ...(this.detail === "" ? [] : [`  Server: ${this.detail}`]),
        ...this.sessions.map((s) => `  Session: ${describeSession(s)}`),
        `  Why:    ${why}`,
        `  Fix:    ${fix}`
      ].join("\n")
    const confirm = WorkflowLiveConfig.confirmDropVariable
    switch (this.reason) {
      case "connection-refused":
      case "timeout":
      case "unknown-host":
      case "authentication-failed":
      case "tls":
        return head(
          this.reason === "connection-refused"
            ? `nothing accepts connections on ${this.where}.`
            : this.reason === "timeout"
            ? `${this.where} accepted no PostgreSQL conversation in time.`
            : this.reason === "unknown-host"
            ? `the host of ${this.where} does not resolve.`
            : this.reason === "authentication-failed"
            ? `the server refused user \`${this.user}\` (connecting to \`${this.subject}\`).`
            : `the TLS handshake with ${this.where} failed.`,
          `the reset connects to the server's maintenance database \`${this.subject}\` with the credentials of ` +
            `${WorkflowLiveConfig.dsnVariable}, and could not.`,
          fixFor(this.reason, this.where, this.user, this.subject)
        )
      case "maintenance-database-missing":
        return head(
          `the maintenance database \`${this.subject}\` does not exist on ${this.where}.`,
          `CREATE and DROP DATABASE must be issued from another database than the one being reset.`,
          `create it (\`createdb -h ${this.where.split(":")[0]} -U postgres ${this.subject}\`), as every ` +
            `standard PostgreSQL installation has one.`
        )
      case "missing-createdb":
        return head(
          `role \`${this.user}\` may not create databases (no CREATEDB).`,
          `the reset drops and recreates \`${this.database}\`; it checks the privilege first so it never drops a ` +
            `database it cannot recreate.`,
          `as a superuser: \`ALTER ROLE "${this.user}" CREATEDB;\`, or use a role that has it in ` +
            `${WorkflowLiveConfig.dsnVariable}.`
        )
      case "not-owner":
        return head(
          `\`${this.subject}\` is owned by another role, so \`${this.user}\` cannot drop it.`,
          `only the owner (or a superuser) may drop a database; nothing was dropped.`,
          `drop it once as its owner (\`DROP DATABASE "${this.subject}"\`), or put its owner's credentials in ` +
            `${WorkflowLiveConfig.dsnVariable}.`
        )
      case "lock-timeout":
        return head(
          `another reset of \`${this.database}\` on this server holds the reset lock, or another lane is still ` +
            `running its tests on it (application_name "${LaneDatabase.applicationName} lane running tests"), ` +
            `and it was not released in time.`,
          `two resets at once, or a reset during another lane's tests, would drop the database under them; ` +
            `resets are serialized per database and wait for running lanes.`,
          `wait for the other run to finish (the holder is listed above), or end it: ` +
            `\`SELECT pg_terminate_backend(<pid>);\`. Raise ${WorkflowLiveConfig.lockTimeoutVariable} ` +
            `(e.g. "5 minutes") if resets here are slow.`
        )
      case "database-in-use":
        return head(
          `\`${this.subject}\` is in use and could not be ${this.step === "drop" ? "dropped" : "copied"}.`,
          this.step === "drop"
            ? `DROP DATABASE ... WITH (FORCE) cannot end some sessions (prepared transactions, replication ` +
              `slots, or sessions the role may not terminate).`
            : `PostgreSQL copies a database only while nobody else is connected to it.`,
          `close the sessions listed above (\`SELECT pg_terminate_backend(<pid>);\`), roll back prepared ` +
            `transactions (\`SELECT gid FROM pg_prepared_xacts\`), then run \`workflow-live reset\` again.`
        )
      case "migration-failed":
        return head(
          `migration ${this.file} failed.`,
          `the schema could not be built. Nothing was half-applied: the Migrator ran the migrations in one ` +
            `transaction, which was rolled back, and no template was kept for this set of migrations.`,
          `correct ${this.subject} and run \`workflow-live reset\` again.`
        )
      case "unmarked-database-with-data":
        return head(
          `\`${this.database}\` exists, was not created by the harness (no marker comment), and holds data.`,
          `a database someone filled by hand is never dropped silently.`,
          `if its data may go, confirm by typing its name: \`export ${confirm}=${this.database}\`, then run ` +
            `\`workflow-live reset\` again. Otherwise point ${WorkflowLiveConfig.dsnVariable} at another server.`
        )
      case "identity-mismatch":
        return head(
          `a fresh connection to \`${this.database}\` reports current_database() = \`${this.subject}\`.`,
          `the suites write through that connection; one that lands elsewhere (a pooler or proxy remapping ` +
            `names) could write into someone else's data.`,
          `point ${WorkflowLiveConfig.dsnVariable} straight at the PostgreSQL server, not through a pooler.`
        )
      case "database-vanished":
        return head(
          `\`${this.subject}\` disappeared during the reset.`,
          `another process dropped it while this reset held its lock: something resets it without the lock.`,
          `find who drops it (server log with log_statement = 'ddl'), stop it, and run \`workflow-live reset\` again.`
        )
      case "name-too-long":
        return head(
          `the template name \`${this.subject}\` is longer than PostgreSQL's 63 bytes.`,
          `PostgreSQL would silently truncate it, and the reset could then confuse two templates.`,
          `use a workflow database name of at most ${63 - 18} bytes.`
        )
      case "forbidden-drop":
        return head(
          `refusing to drop \`${this.subject}\`.`,
          `the reset may only drop \`${this.database}\` and its own \`${Migrations.templatePrefix(this.database)}<hash>\` ` +
            `templates; this is a bug in the harness, and nothing was dropped.`,
          `report it with this message.`
        )
      case "server-error":
        return head(
          `the server rejected a statement.`,
          `the reset cannot go on without it.`,
          `read the server's words above; fix the cause and run \`workflow-live reset\` again.`
        )
    }
  }
}

const describeSession = (s: Session): string =>
  [
    `pid ${s.pid}`,
    `application "${s.applicationName}"`,
    ...(s.user === null ? [] : [`user ${s.user}`]),
    `from ${s.client ?? "local socket"}`,
    ...(s.state === null ? [] : [`state ${s.state}`]),
    ...(s.backendStart === null ? [] : [`since ${s.backendStart.toISOString()}`])
  ].join(", ")

/** One step as a terminal line: name, duration, detail. */
export const renderStep = (step: { readonly name: string; readonly millis: number; readonly detail: string }): string =>
  `  ${step.name.padEnd(9)}${`${Math.round(step.millis)} ms`.padStart(8)}  ${step.detail}`

/** How a reset is run. Every field has a default; `layerConfig` reads them from the environment. */
export interface Options {
  /** The `NNNN_name.sql` directory. Default: the package's `migrations/`. */
  readonly migrationsDirectory?: string | undefined
  /** Must equal the database name to drop an unmarked database that holds data. */
  readonly confirmDrop?: string | undefined
  /** How long to wait for another reset's lock. Default 60 s. */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** Connect timeout of every connection. Default 5 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The database to issue CREATE/DROP DATABASE from. Default `postgres`. */
  readonly maintenanceDatabase?: string | undefined
  /** Called as each step finishes, for progress output. */
  readonly onStep?: ((step: Step) => Effect.Effect<void>) | undefined
}

interface Context {
  readonly target: DsnGuard.VerifiedTarget
  readonly where: string
  readonly secrets: ReadonlyArray<string>
}

const makeError = (
  ctx: Context,
  fields: {
    readonly reason: DatabaseResetReason
    readonly step: StepName
    readonly subject?: string | undefined
    readonly detail?: string | undefined
    readonly sessions?: ReadonlyArray<Session> | undefined
    readonly file?: string | undefined
  }
): DatabaseResetError =>
  new DatabaseResetError({
    reason: fields.reason,
    database: ctx.target.database,
    subject: fields.subject ?? ctx.target.database,
    step: fields.step,
    where: ctx.where,
    user: ctx.target.user,
    detail: scrub(fields.detail ?? "", ctx.secrets),
    sessions: fields.sessions ?? [],
    file: fields.file
  })

/** Turns a connection or statement failure into the reset's error. */
const fromSql = (ctx: Context, step: StepName, subject: string, cause: unknown): DatabaseResetError => {
  const classified = classify(cause)
  const detail = classified.detail.replace(/^PgClient: Failed to connect \| /, "")
  switch (classified.problem) {
    case "connection-refused":
    case "timeout":
    case "unknown-host":
    case "authentication-failed":
    case "tls":
      return makeError(ctx, { reason: classified.problem, step, subject, detail })
    case "database-missing":
      return makeError(ctx, {
        reason: step === "lock" ? "maintenance-database-missing" : "database-vanished",
        step,
        subject,
        detail
      })
    case "insufficient-privilege":
      return makeError(ctx, {
        reason: /terminate/i.test(detail)
          ? "database-in-use"
          : /owner/i.test(detail)
          ? "not-owner"
          : /create database/i.test(detail)
          ? "missing-createdb"
          : "server-error",
        step,
        subject,
        detail
      })
    default:
      return makeError(ctx, {
        reason: classified.code === "55006" ? "database-in-use" : "server-error",
        step,
        subject,
        detail
      })
  }
}

/** A `PgClient` for one database of the target's server, closed with the scope. */
const connect = (
  ctx: Context,
  database: string,
  connectTimeout: Duration.DurationInput,
  step: StepName,
  name: string = applicationName
): Effect.Effect<PgClient.PgClient, DatabaseResetError, Scope.Scope> =>
  PgClient.make({
    ...LaneDatabase.clientConfig(ctx.target, { database, applicationName: name, connectTimeout, maxConnections: 1 }),
    // a reset is short; an idle connection must not be closed under the held lock
    idleTimeout: Duration.zero
  }).pipe(
    Effect.provide(Reactivity.layer),
    Effect.mapError((cause) => fromSql(ctx, step, database, cause))
  )

type Run = <A extends object>(statement: Statement<A>) => Effect.Effect<ReadonlyArray<A>, unknown>

const runOn = (connection: Connection): Run => (statement) => {
  const [text, params] = statement.compile()
  return connection.execute(text, params, undefined) as Effect.Effect<ReadonlyArray<never>, unknown>
}

const sessionColumns = `pid, usename AS "user", coalesce(application_name, '') AS "applicationName",
  client_addr::text AS client, state, backend_start AS "backendStart"`

/** The `application_name` of a lane's protecting connection: a reset that waits for it names it. */
export const laneApplicationName: string = `${LaneDatabase.applicationName} lane running tests (pid ${process.pid})`

/**
 * Keeps every other reset of the target's database waiting while the scope is open: a shared advisory
 * lock on the reset's own key, on a connection of its own. A lane takes it right after its reset and
 * holds it while its tests run, so a second lane on the same server cannot drop the database under them;
 * that lane's reset waits (`WORKFLOW_LIVE_LOCK_TIMEOUT`) and then fails with `lock-timeout`, naming it.
 */
export const protect = (
  target: DsnGuard.VerifiedTarget,
  options: Pick<Options, "maintenanceDatabase" | "connectTimeout"> = {}
): Effect.Effect<void, DatabaseResetError, Scope.Scope> =>
  Effect.gen(function*() {
    const verified = yield* DsnGuard.assertVerified(target)
    const ctx: Context = {
      target: verified,
      where: `${verified.host}:${verified.port}`,
      secrets: verified.connection.password === undefined ? [] : [Redacted.value(verified.connection.password)]
    }
    const maintenanceDatabase = options.maintenanceDatabase ?? "postgres"
    const client = yield* connect(
      ctx,
      maintenanceDatabase,
      options.connectTimeout ?? Duration.seconds(5),
      "lock",
      laneApplicationName
    )
    const connection = yield* client.reserve.pipe(
      Effect.mapError((cause) => fromSql(ctx, "lock", maintenanceDatabase, cause))
    )
    const run = runOn(connection)
    // blocks only while another reset holds the exclusive lock; that reset then leaves a fresh database
    yield* run(client`SELECT pg_advisory_lock_shared(${lockNamespace}, hashtext(${verified.database}))`).pipe(
      Effect.mapError((cause) => fromSql(ctx, "lock", maintenanceDatabase, cause))
    )
    yield* Effect.addFinalizer(() =>
      run(client`SELECT pg_advisory_unlock_shared(${lockNamespace}, hashtext(${verified.database}))`).pipe(Effect.ignore)
    )
  })

/**
 * Resets the verified target's database. Requires a target from {@link DsnGuard.verify}: no other value,
 * and no other name, is accepted.
 */
export const reset = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError> =>
  Effect.scoped(Effect.gen(function*() {
    const started = performance.now()
    const steps: Array<Step> = []
    let mark = started
    const finish = (name: StepName, detail: string): Effect.Effect<void> => {
      const now = performance.now()
      const step: Step = { name, millis: now - mark, detail }
      mark = now
      steps.push(step)
      return options.onStep === undefined ? Effect.void : options.onStep(step)
    }

    // guard: the runtime brand check, then everything that can be known without a connection
    const verified = yield* DsnGuard.assertVerified(target)
    const database = verified.database
    const ctx: Context = {
      target: verified,
      where: `${verified.host}:${verified.port}`,
      secrets: verified.connection.password === undefined ? [] : [Redacted.value(verified.connection.password)]
    }
    const connectTimeout = options.connectTimeout ?? Duration.seconds(5)
    const maintenanceDatabase = options.maintenanceDatabase ?? "postgres"
    const set = yield* Migrations.load(options.migrationsDirectory)
    const template = Migrations.templateName(database, set.hash)
    const prefix = Migrations.templatePrefix(database)
    if (Buffer.byteLength(template) > 63) {
      return yield* makeError(ctx, { reason: "name-too-long", step: "guard", subject: template })
    }
    const droppable = (name: string): boolean =>
      name === database || (name.startsWith(prefix) && /^[0-9a-f]{12}$/.test(name.slice(prefix.length)))
    yield* finish("guard", `${database} on ${ctx.where}; ${set.migrations.length} migrations, hash ${set.hash}`)

    // lock: one maintenance connection, reserved for the whole reset (a session lock lives on it)
    const maintenance = yield* connect(ctx, maintenanceDatabase, connectTimeout, "lock")
    const connection = yield* maintenance.reserve.pipe(
      Effect.mapError((cause) => fromSql(ctx, "lock", maintenanceDatabase, cause))
    )
    const run = runOn(connection)
    const sql = maintenance
    const on = (step: StepName, subject: string) => <A>(effect: Effect.Effect<A, unknown>) =>
      Effect.mapError(effect, (cause) => fromSql(ctx, step, subject, cause))

    const tryLock = sql<{ locked: boolean; canCreate: boolean | null }>`SELECT
      pg_try_advisory_lock(${lockNamespace}, hashtext(${database})) AS locked,
      (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user) AS "canCreate"`
    const lockTimeout = Duration.toMillis(options.lockTimeout ?? WorkflowLiveConfig.defaultLockTimeout)
    const waitStarted = performance.now()
    let attempt = 0
    for (;;) {
      const [row] = yield* run(tryLock).pipe(on("lock", maintenanceDatabase))
      if (row?.canCreate !== true) {
        return yield* makeError(ctx, { reason: "missing-createdb", step: "lock" })
      }
      if (row.locked) break
      if (performance.now() - waitStarted >= lockTimeout) {
        const holders = yield* run(sql<Session>`SELECT ${sql.literal(sessionColumns)}
          FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
            AND l.classid = ${lockNamespace}::int4::oid AND l.objid = hashtext(${database})::oid`).pipe(
          on("lock", maintenanceDatabase)
        )
        return yield* makeError(ctx, {
          reason: "lock-timeout",
          step: "lock",
          detail: `waited ${Math.round(performance.now() - waitStarted)} ms`,
          sessions: holders
        })
      }
      yield* Effect.sleep(Duration.millis(Math.min(250, 25 * 2 ** attempt++)))
    }
    yield* Effect.addFinalizer(() =>
      run(sql`SELECT pg_advisory_unlock(${lockNamespace}, hashtext(${database}))`).pipe(Effect.ignore)
    )
    const waited = performance.now() - waitStarted
    yield* finish("lock", waited > 50 ? `acquired after waiting ${Math.round(waited)} ms` : "acquired")

    // drop: what exists, who is connected, whether it is ours; then DROP ... WITH (FORCE)
    const existing = yield* run(sql<{ name: string; comment: string | null; owned: boolean }>`SELECT
        d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment,
        pg_has_role(current_user, d.datdba, 'USAGE') AS owned
      FROM pg_database d WHERE d.datname = ${database} OR starts_with(d.datname, ${prefix})`).pipe(
      on("drop", database)
    )
    const current = existing.find((d) => d.name === database)
    const templateRow = existing.find((d) => d.name === template)
    const warm = templateRow !== undefined && isTemplateMarked(templateRow.comment)
    const notOwned = existing.find((d) => !d.owned && (d.name === database || d.name === template))
    if (notOwned !== undefined) {
      return yield* makeError(ctx, { reason: "not-owner", step: "drop", subject: notOwned.name })
    }
    let adopted = ""
    if (current !== undefined && !isMarked(current.comment)) {
      if (options.confirmDrop === database) {
        adopted = `unmarked, dropped as confirmed by ${WorkflowLiveConfig.confirmDropVariable}; `
      } else {
        const tables = yield* tablesWithRows(ctx, connectTimeout)
        if (tables.length > 0) {
          return yield* makeError(ctx, {
            reason: "unmarked-database-with-data",
            step: "drop",
            detail: `rows in ${tables.slice(0, 5).join(", ")}${tables.length > 5 ? ` and ${tables.length - 5} more` : ""}`
          })
        }
        adopted = "unmarked but empty, adopted; "
      }
    }
    const dropDatabase = (name: string, step: StepName) =>
      droppable(name)
        ? run(sql`DROP DATABASE IF EXISTS ${sql(name)} WITH (FORCE)`).pipe(on(step, name))
        : Effect.fail(makeError(ctx, { reason: "forbidden-drop", step, subject: name }))
    let terminated: ReadonlyArray<Session> = []
    if (current !== undefined) {
      terminated = yield* run(sql<Session>`SELECT ${sql.literal(sessionColumns)}
        FROM pg_stat_activity WHERE datname = ${database} AND pid <> pg_backend_pid() ORDER BY backend_start`).pipe(
        on("drop", database)
      )
      yield* dropDatabase(database, "drop").pipe(
        Effect.mapError((error) =>
          error.reason === "database-in-use"
            ? makeError(ctx, { reason: error.reason, step: "drop", detail: error.detail, sessions: terminated })
            : error
        )
      )
    }
    yield* finish(
      "drop",
      current === undefined
        ? "did not exist"
        : `${adopted}dropped` + (terminated.length === 0
          ? ", nobody was connected"
          : `, terminated ${terminated.length} session(s):\n${terminated.map((s) => `    ${describeSession(s)}`).join("\n")}`)
    )

    // create or clone, then mark
    const comment = (name: string, text: string) =>
      run(sql`COMMENT ON DATABASE ${sql(name)} IS ${sql.literal(`'${text.replace(/'/g, "''")}'`)}`)
    const createStep: StepName = warm ? "clone" : "create"
    yield* run(sql`CREATE DATABASE ${sql(database)} TEMPLATE ${sql(warm ? template : "template0")}`).pipe(
      on(createStep, warm ? template : database)
    )
    yield* comment(database, marker).pipe(on(createStep, database))
    yield* finish(createStep, warm ? `from ${template}` : "empty, from template0")

    // identity, then migrate, on one fresh connection to the new database: the identity is checked
    // before the Migrator's first write, and a second connection would cost as much as the clone itself
    const applied = yield* Effect.scoped(Effect.gen(function*() {
      const client = yield* connect(ctx, database, connectTimeout, "identity")
      const identity = yield* client<{ db: string }>`SELECT current_database() AS db`.pipe(on("identity", database))
      const actual = identity[0]?.db ?? "(no row)"
      if (actual !== database) {
        return yield* makeError(ctx, { reason: "identity-mismatch", step: "identity", subject: actual })
      }
      yield* finish("identity", `current_database() = ${actual} on a fresh connection`)
      // on a warm reset the Migrator must find nothing to do
      return yield* Migrations.run(set).pipe(
        Effect.provideService(PgClient.PgClient, client),
        Effect.provideService(SqlClient.SqlClient, client)
      )
    })).pipe(
      Effect.catchTag("MigrationsError", (error): Effect.Effect<never, DatabaseResetError | Migrations.MigrationsError> =>
        error.reason === "migration-failed"
          ? Effect.fail(makeError(ctx, {
              reason: "migration-failed",
              step: "migrate",
              subject: join(error.directory, error.file ?? ""),
              detail: error.detail,
              file: error.file
            }))
          : Effect.fail(error))
    )
    yield* finish("migrate", `${applied.length} applied${applied.length === 0 ? "" : ` (${applied.map((m) => m.file).join(", ")})`}`)

    // template: kept only now that the migrations succeeded; older ones go
    if (!warm) {
      const stale = existing.filter((d) =>
        d.name !== database && d.owned && (d.name === template || isTemplateMarked(d.comment))
      )
      for (const old of stale) yield* dropDatabase(old.name, "template")
      yield* run(sql`CREATE DATABASE ${sql(template)} TEMPLATE ${sql(database)}`).pipe(on("template", database))
      yield* run(sql`ALTER DATABASE ${sql(template)} ALLOW_CONNECTIONS false`).pipe(on("template", template))
      yield* comment(template, templateMarker(set.hash)).pipe(on("template", template))
      const removed = stale.filter((d) => d.name !== template).length
      yield* finish("template", `built ${template}${removed === 0 ? "" : `, removed ${removed} older template(s)`}`)
    }

    return {
      database,
      mode: warm ? "warm" : "cold",
      template,
      applied: applied.map((m) => m.file),
      terminated,
      steps,
      millis: performance.now() - started
    } satisfies ResetResult
  }))

/** Tables of the (unmarked) workflow database that hold at least one row; unreadable ones count as data. */
const tablesWithRows = (
  ctx: Context,
  connectTimeout: Duration.DurationInput
): Effect.Effect<ReadonlyArray<string>, DatabaseResetError> =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* connect(ctx, ctx.target.database, connectTimeout, "drop")
    const rows = yield* client<{ name: string }>`SELECT format('%I.%I', n.nspname, c.relname) AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p')
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        AND (NOT has_table_privilege(c.oid, 'SELECT')
          OR (xpath('/row/n/text()', query_to_xml(
            format('SELECT count(*) AS n FROM (SELECT 1 FROM %I.%I LIMIT 1) s', n.nspname, c.relname),
            false, true, '')))[1]::text <> '0')
      ORDER BY 1`.pipe(
      Effect.catchAll((cause) =>
        Effect.succeed([{ name: `(could not inspect: ${classify(cause).detail})` }])
      )
    )
    return rows.map((row) => row.name)
  }))

/** Resets with the options from the lane's environment (`WORKFLOW_LIVE_*`), overridable. */
export const fromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<ResetResult, DatabaseResetError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Effect.flatMap(WorkflowLiveConfig.WorkflowLiveConfig, (config) =>
    reset(target, {
      migrationsDirectory: Option.getOrUndefined(config.migrationsDirectory),
      confirmDrop: Option.getOrUndefined(config.confirmDrop),
      lockTimeout: config.lockTimeout,
      ...overrides
    }))

/** Resets the verified target's database when the layer is built. */
export const layer = (
  options: Options = {}
): Layer.Layer<never, DatabaseResetError | Migrations.MigrationsError, DsnGuard.VerifiedTarget> =>
  Layer.effectDiscard(Effect.flatMap(DsnGuard.VerifiedTarget, (target) => reset(target, options)))

/** Resets the verified target's database, with the options read from the environment. */
export const layerConfig = (
  overrides: Options = {}
): Layer.Layer<never, DatabaseResetError | Migrations.MigrationsError | ConfigError, DsnGuard.VerifiedTarget> =>
  Layer.effectDiscard(Effect.flatMap(DsnGuard.VerifiedTarget, (target) => fromConfig(target, overrides))).pipe(
    Layer.provide(WorkflowLiveConfig.layerConfig)
  )
