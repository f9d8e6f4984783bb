/**
 * `prune`: removes what the harness left on a server next to the workflow database `<db>`: templates of
 * other migrations or another harness version, spares and retired databases. It considers exactly the
 * databases named `<db>__*` whose comment carries the harness's marker, keeps the current template and
 * spare, never touches the workflow database itself, and takes the reset's lock, so it never runs under
 * a reset or a lane. It accepts only a {@link DsnGuard.VerifiedTarget}.
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import { Data, Duration, Effect, Option, Redacted, type Scope } from "effect"
import * as DsnGuard from "./DsnGuard.js"
import * as Harness from "./internal/harnessDatabases.js"
import { classify, type ConnectionProblem, fixFor } from "./internal/pgError.js"
import { scrub } from "./internal/redact.js"
import * as ResetLock from "./internal/resetLock.js"
import { describeSession, type SessionInfo } from "./internal/resetMessage.js"
import * as Variables from "./internal/variables.js"
import * as LaneDatabase from "./LaneDatabase.js"
import * as Migrations from "./Migrations.js"
import * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"

/** The `application_name` of prune's session (with the OS pid, so a waiting reset can name it). */
export const applicationName: string = `${LaneDatabase.applicationName} prune (pid ${process.pid})`

/** Every reason, for docs and tests. */
export const reasons = ["cannot-connect", "lock-timeout", "inspect-failed", "drop-failed"] as const

/** Why a prune failed. */
export type PruneReason = typeof reasons[number]

/** The prune did not complete; the message says what, why and how to fix it. */
export class PruneError extends Data.TaggedError("PruneError")<{
  readonly reason: PruneReason
  /** The workflow database whose harness databases were pruned. */
  readonly database: string
  /** The database the failure concerned (the maintenance database, the one being dropped). */
  readonly subject: string
  /** `host:port` */
  readonly where: string
  readonly user: string
  /** The server's or driver's words, secrets scrubbed. */
  readonly detail: string
  readonly problem: ConnectionProblem | undefined
  readonly code: string | undefined
  /** Who holds the lock, for `lock-timeout`. */
  readonly sessions: ReadonlyArray<SessionInfo>
  /** What was dropped before the failure. */
  readonly dropped: ReadonlyArray<string>
}> {
  override get message(): string {
    const { fix, what, why } = explain(this)
    return [
      `Prune of the harness databases of \`${this.database}\` on ${this.where} failed (${this.reason}): ${what}`,
      ...(this.detail === "" ? [] : [`  Server: ${this.detail}`]),
      ...this.sessions.map((s) => `  Session: ${describeSession(s)}`),
      ...(this.dropped.length === 0 ? [] : [`  Dropped before the failure: ${this.dropped.join(", ")}`]),
      `  Why:    ${why}`,
      `  Fix:    ${fix}`
    ].join("\n")
  }
}

const explain = (e: PruneError): { readonly what: string; readonly why: string; readonly fix: string } => {
  switch (e.reason) {
    case "cannot-connect":
      return {
        what: `could not open a session on the maintenance database \`${e.subject}\`.`,
        why: `prune lists and drops databases from there, holding the reset's lock on that session.`,
        fix: e.problem === "database-missing"
          ? `create the maintenance database (\`CREATE DATABASE ${e.subject}\`, as every standard installation has it).`
          : fixFor(e.problem ?? "other", e.where, e.user, e.subject, e.code)
      }
    case "lock-timeout":
      return {
        what: `a reset of \`${e.database}\` or a lane running its tests holds the reset lock, and did not release it in time.`,
        why: `prune drops the harness's databases, which a reset or a running lane may be using; it never runs under them.`,
        fix: `wait for the run listed above to finish (or end it: \`SELECT pg_terminate_backend(<pid>);\`), then run ` +
          `\`workflow-live prune\` again; ${Variables.lockTimeoutVariable} sets how long it waits.`
      }
    case "inspect-failed":
      return {
        what: `could not list the databases on the server.`,
        why: `prune decides from the catalog (names, markers, owners, sizes); nothing was dropped.`,
        fix: fixFor(e.problem ?? "other", e.where, e.user, e.subject, e.code)
      }
    case "drop-failed":
      return {
        what: `could not drop \`${e.subject}\`.`,
        why: `the server refused the DROP DATABASE (a session it cannot end, a prepared transaction, a privilege).`,
        fix: `close what uses it (\`SELECT pid, application_name FROM pg_stat_activity WHERE datname = '${e.subject}'\`; ` +
          `\`SELECT gid FROM pg_prepared_xacts WHERE database = '${e.subject}'\`), or drop it as its owner, then run ` +
          `\`workflow-live prune\` again.`
      }
  }
}

/** What prune does with one database. */
export type Verdict = "keep" | "drop" | "not-owner" | "ignore"

/** One database named like the harness's, with the verdict and why. */
export interface Entry {
  readonly name: string
  readonly verdict: Verdict
  readonly why: string
  /** `pg_database_size`, when the role may read it. */
  readonly bytes: number | undefined
}

/** What a prune found and did. */
export interface PruneResult {
  readonly database: string
  readonly where: string
  readonly dryRun: boolean
  readonly entries: ReadonlyArray<Entry>
  /** Dropped (empty on a dry run). */
  readonly dropped: ReadonlyArray<string>
  /** The disk the drops free (or would free), from `pg_database_size`. */
  readonly bytes: number
  readonly millis: number
  /**
   * A dry run does not wait for the reset's lock: when a reset or lane holds it, these are its sessions,
   * and the list may change before a real prune (which waits for them).
   */
  readonly busy: ReadonlyArray<SessionInfo>
}

/** How a prune runs. Every field has a default; {@link fromConfig} reads them from the environment. */
export interface Options {
  /** List what would go and how much disk it frees, and drop nothing. */
  readonly dryRun?: boolean | undefined
  /** The migrations whose template (and spare) are kept. Default: the package's `migrations/`. */
  readonly migrationsDirectory?: string | undefined
  /** How long to wait for a reset or a running lane. Default 60 s. */
  readonly lockTimeout?: Duration.DurationInput | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** The database to list and drop from. Default `postgres`. */
  readonly maintenanceDatabase?: string | undefined
}

/** A database under the harness's prefix, as the catalog shows it. */
export interface Listed {
  readonly name: string
  readonly comment: string | null
  readonly owned: boolean
  readonly owner: string
  readonly bytes: number | undefined
}

/** The current migrations, whose template and spare are kept. */
export interface Current {
  readonly hash: string
  readonly harnessVersion: string
}

/** The verdict on every listed database: only marked `<db>__*` databases of the role, not the current ones, go. */
export const plan = (database: string, current: Current, user: string, listed: ReadonlyArray<Listed>): ReadonlyArray<Entry> => {
  const keep = [Migrations.templateName(database, current.hash), Harness.spareName(database, current.hash)]
  const stale = Harness.stale(database, keep, listed)
  const listedHere = listed.filter((d) => Harness.isHarnessName(database, d.name) || Harness.isLookalikeName(database, d.name))
  return listedHere.map((d): Entry => {
    const entry = (verdict: Verdict, why: string): Entry => ({ name: d.name, verdict, why, bytes: d.bytes })
    if (!Harness.isHarnessName(database, d.name)) {
      return entry(
        "ignore",
        `not a name the harness makes (\`__tpl_<hash>\`, \`__spare_<hash>\`, \`__old_<ms>\`): never touched, ` +
          `even with the harness's marker (a database renamed by hand keeps it)`
      )
    }
    if (!Harness.isHarnessMarked(d.comment)) {
      return entry("ignore", `not marked as the harness's (no "${Harness.markerPrefix}" comment): never touched`)
    }
    if (!stale.includes(d)) return entry("keep", `the ${d.name === keep[0] ? "template" : "spare"} of the current migrations`)
    if (!d.owned) return entry("not-owner", `owned by ${d.owner}, not ${user}: left alone (drop it as ${d.owner})`)
    return entry("drop", staleWhy(database, d, current))
  })
}

const staleWhy = (database: string, d: Listed, current: Current): string => {
  switch (Harness.kindOf(database, d.name, d.comment)) {
    case "template": {
      const origin = Harness.templateOrigin(d.comment)
      return origin.version !== undefined && origin.version !== current.harnessVersion
        ? `template of harness ${origin.version} (this is ${current.harnessVersion})`
        : `template of other migrations (${origin.hash ?? "unknown"}; current ${current.hash})`
    }
    case "spare":
      return `spare of other migrations (current ${current.hash})`
    case "retired":
      return "retired by a reset"
    case "other":
      return "marked as the harness's, left over"
  }
}

const failure = (target: DsnGuard.VerifiedTarget, reason: PruneReason, subject: string, cause: unknown, dropped: ReadonlyArray<string> = []) => {
  const classified = classify(cause)
  const secrets = target.connection.password === undefined ? [] : [Redacted.value(target.connection.password)]
  return new PruneError({
    reason,
    database: target.database,
    subject,
    where: `${target.host}:${target.port}`,
    user: target.user,
    detail: scrub(classified.detail.replace(/^PgClient: Failed to connect \| /, ""), secrets),
    problem: classified.problem,
    code: classified.code,
    sessions: [],
    dropped
  })
}

interface Held {
  readonly sql: PgClient.PgClient
  readonly run: ResetLock.Run
}

/**
 * The maintenance session, holding the reset's lock (exclusive) until the scope closes. A dry run, which
 * drops nothing, takes it only if it is free, and otherwise reads without it (`busy`: who holds it).
 */
const lock = (
  target: DsnGuard.VerifiedTarget,
  options: Options
): Effect.Effect<Held & { readonly busy: ReadonlyArray<SessionInfo> }, PruneError, Scope.Scope> =>
  Effect.gen(function*() {
    const maintenance = options.maintenanceDatabase ?? "postgres"
    const cannot = (cause: unknown) => failure(target, "cannot-connect", maintenance, cause)
    const sql = yield* LaneDatabase.open(target, {
      database: maintenance,
      applicationName,
      maxConnections: 1,
      connectTimeout: options.connectTimeout,
      catalogOnly: true
    }).pipe(Effect.mapError(cannot))
    const run = ResetLock.runOn(yield* Effect.mapError(sql.reserve, cannot))
    const timeout = options.dryRun === true ? Duration.zero : options.lockTimeout ?? WorkflowLiveConfig.defaultLockTimeout
    const outcome = yield* Effect.either(ResetLock.acquireExclusive(sql, run, target.database, timeout, false))
    if (outcome._tag === "Left") {
      if (!(outcome.left instanceof ResetLock.LockBusy)) return yield* cannot(outcome.left)
      const sessions = yield* ResetLock.holders<SessionInfo>(sql, run, target.database).pipe(Effect.orElseSucceed(() => []))
      if (options.dryRun === true) return { sql, run, busy: sessions }
      return yield* new PruneError({
        ...failure(target, "lock-timeout", maintenance, ""),
        detail: `waited ${Duration.format(Duration.decode(timeout))}`,
        sessions
      })
    }
    yield* Effect.addFinalizer(() => Effect.ignore(ResetLock.releaseExclusive(sql, run, target.database)))
    return { sql, run, busy: [] }
  })

const list = (held: Held, target: DsnGuard.VerifiedTarget) =>
  held.run(held.sql<{ name: string; comment: string | null; owned: boolean; owner: string; bytes: string | null }>`
    SELECT d.datname AS name, shobj_description(d.oid, 'pg_database') AS comment,
      pg_has_role(current_user, d.datdba, 'USAGE') AS owned, pg_get_userbyid(d.datdba) AS owner,
      CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
        THEN pg_database_size(d.oid)::text END AS bytes
    FROM pg_database d WHERE starts_with(d.datname, ${Harness.harnessPrefix(target.database)}) ORDER BY d.datname`).pipe(
    Effect.map((rows): ReadonlyArray<Listed> => rows.map((r) => ({ ...r, bytes: r.bytes === null ? undefined : Number(r.bytes) }))),
    Effect.mapError((cause) => failure(target, "inspect-failed", "pg_database", cause))
  )

/** Drops the entries marked `drop`, one by one; the names were checked against the guard's rules twice. */
const dropAll = (held: Held, target: DsnGuard.VerifiedTarget, entries: ReadonlyArray<Entry>) =>
  Effect.reduce(entries.filter((e) => e.verdict === "drop"), [] as ReadonlyArray<string>, (dropped, entry) =>
    !Harness.isHarnessName(target.database, entry.name) || entry.name === target.database
      ? Effect.die(new Error(`workflow-live prune: refusing to drop ${entry.name}, not a harness name of ${target.database}`))
      : held.run(held.sql`DROP DATABASE IF EXISTS ${held.sql(entry.name)} WITH (FORCE)`).pipe(
        Effect.mapError((cause) => failure(target, "drop-failed", entry.name, cause, dropped)),
        Effect.as([...dropped, entry.name])
      ))

/**
 * Lists the harness's databases of the verified target's database and drops the stale ones, holding the
 * reset's lock throughout; a dry run drops none, and does not wait for the lock (it says who holds it).
 */
export const prune = (
  target: DsnGuard.VerifiedTarget,
  options: Options = {}
): Effect.Effect<PruneResult, PruneError | Migrations.MigrationsError> =>
  Effect.scoped(Effect.gen(function*() {
    const verified = yield* DsnGuard.assertVerified(target)
    const [took, result] = yield* Effect.timed(Effect.gen(function*() {
      const set = yield* Migrations.load(options.migrationsDirectory)
      const held = yield* lock(verified, options)
      const entries = plan(verified.database, set, verified.user, yield* list(held, verified))
      const dropped = options.dryRun === true ? [] : yield* dropAll(held, verified, entries)
      const bytes = entries.filter((e) => e.verdict === "drop").reduce((sum, e) => sum + (e.bytes ?? 0), 0)
      return { entries, dropped, bytes, busy: held.busy }
    }))
    return {
      database: verified.database,
      where: `${verified.host}:${verified.port}`,
      dryRun: options.dryRun === true,
      ...result,
      millis: Duration.toMillis(took)
    }
  }))

/** {@link prune} with the migrations and lock timeout from the lane's environment, overridable. */
export const fromConfig = (
  target: DsnGuard.VerifiedTarget,
  overrides: Options = {}
): Effect.Effect<PruneResult, PruneError | Migrations.MigrationsError, WorkflowLiveConfig.WorkflowLiveConfig> =>
  Effect.flatMap(WorkflowLiveConfig.WorkflowLiveConfig, (config) =>
    prune(target, {
      migrationsDirectory: Option.getOrUndefined(config.migrationsDirectory),
      lockTimeout: config.lockTimeout,
      ...overrides
    }))

/** Bytes for people: `7.4 MB`. */
export const formatBytes = (bytes: number): string => {
  const units = ["bytes", "kB", "MB", "GB", "TB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`
}

/** The result as terminal lines: one per database, then what was (or would be) freed. */
export const render = (result: PruneResult): ReadonlyArray<string> => {
  const width = Math.max(0, ...result.entries.map((e) => e.name.length))
  const label = (e: Entry) => e.verdict === "drop" ? (result.dryRun ? "would drop" : "dropped") : e.verdict
  const lines = result.entries.map((e) =>
    `  ${label(e).padEnd(10)}  ${e.name.padEnd(width)}  ${(e.bytes === undefined ? "size ?" : formatBytes(e.bytes)).padStart(10)}  ${e.why}`
  )
  const count = result.entries.filter((e) => e.verdict === "drop").length
  const summary = count === 0
    ? "nothing to prune"
    : result.dryRun
    ? `would free ${formatBytes(result.bytes)} (${count} database(s)); run \`workflow-live prune\` to remove them`
    : `freed ${formatBytes(result.bytes)} (${count} database(s)) in ${Math.round(result.millis)} ms`
  const busy = result.busy.length === 0 ? [] : [
    `  the reset's lock is held (a reset or a lane is running), so this list may change before \`workflow-live prune\`, ` +
    `which waits for it:`,
    ...result.busy.map((s) => `    ${describeSession(s)}`)
  ]
  return [...(lines.length === 0 ? [`  no database named ${Harness.harnessPrefix(result.database)}* on the server`] : lines), summary, ...busy]
}
