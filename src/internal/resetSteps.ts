/**
 * The SQL steps of a reset on its maintenance session: inspect what exists and who is connected,
 * classify the existing database, drop, create or clone, mark, keep the template. Each step fails with a
 * {@link StepFailure} that `DatabaseReset` turns into its error; nothing here decides the order.
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import { Data, Duration, Effect, type Scope } from "effect"
import pg from "pg"
import { describeInventory, type Inventory } from "./databaseInventory.js"
import * as Harness from "./harnessDatabases.js"
import { type Classified, classify } from "./pgError.js"
import {
  acquireExclusive,
  type Attempt,
  holders,
  LockBusy,
  NoCreatedb,
  outcome,
  releaseExclusive,
  type Run,
  sessionColumns,
  tryLockSql
} from "./resetLock.js"
import { describeSession, type ResetReason, type SessionInfo } from "./resetMessage.js"
import * as Spare from "./resetSpare.js"
import { confirmDropVariable } from "./variables.js"

/** The comment that marks a database as created by the harness. */
export const marker = Harness.managedMarker

const isMarked = Harness.isManaged
const isTemplateMarked = Harness.isTemplateMarked

/** What every step knows: the names involved and where. */
export interface Context {
  readonly database: string
  readonly where: string
  readonly user: string
  readonly secrets: ReadonlyArray<string>
  readonly maintenance: string
  /** The template for the current migrations, and the prefix of every template of the database. */
  readonly template: string
  readonly prefix: string
  readonly hash: string
  /** The spare a warm reset renames into place (`<database>__spare_<hash>`). */
  readonly spare: string
  /** The harness's version, written into the template's marker (so `prune` can say why one is stale). */
  readonly harnessVersion: string
}

/** A step failed; `DatabaseReset` turns it into a `DatabaseResetError`. */
export class StepFailure extends Data.TaggedError("StepFailure")<{
  readonly reason: ResetReason
  readonly step: string
  readonly subject?: string | undefined
  readonly detail?: string | undefined
  readonly sessions?: ReadonlyArray<SessionInfo> | undefined
  readonly file?: string | undefined
  readonly found?: string | undefined
  readonly code?: string | undefined
}> {}

/** The session the steps run on, and which of the reset's locks it holds. */
export interface Session {
  readonly sql: PgClient.PgClient
  readonly run: Run
  /** Cleared when a lane turns the exclusive lock into a shared one, so the release does not repeat it. */
  readonly locks: { exclusive: boolean }
}

/** The reset's reason for a classified connection or statement failure at `step`. */
export const reasonFor = (classified: Classified, step: string, detail: string): ResetReason => {
  switch (classified.problem) {
    case "database-missing":
      return step === "lock" ? "maintenance-database-missing" : "database-vanished"
    case "insufficient-privilege":
      return /terminate/i.test(detail)
        ? "database-in-use"
        : /owner/i.test(detail)
        ? "not-owner"
        : /create database/i.test(detail)
        ? "missing-createdb"
        : "server-error"
    case "other":
      return classified.code === "55006" ? "database-in-use" : "server-error"
    default:
      return classified.problem
  }
}

/** Turns a connection or statement failure at `step` about `subject` into a step failure. */
export const onFailure: OnFailure = (step, subject) => (effect) =>
  Effect.mapError(effect, (cause) => {
    const classified = classify(cause)
    const detail = classified.detail.replace(/^PgClient: Failed to connect \| /, "")
    return new StepFailure({ reason: reasonFor(classified, step, detail), step, subject, detail, code: classified.code })
  })

/** Maps a statement's failure at `step` about `subject`. */
export type OnFailure = (
  step: string,
  subject: string
) => <A, R>(effect: Effect.Effect<A, unknown, R>) => Effect.Effect<A, StepFailure, R>

/**
 * Step "lock": the exclusive reset lock, released with the scope (unless a lane turns it shared first).
 * The first attempt carries the inspection's read in the same round trip (statements of one simple query
 * run in order, so the read happens under the lock it just took); its rows are returned when that attempt
 * got the lock, and the inspection reads afresh otherwise.
 */
export const lock = (
  session: Session,
  ctx: Context,
  timeout: Duration.DurationInput,
  on: OnFailure,
  applicationName?: string,
  onBusy: Effect.Effect<void> = Effect.void
): Effect.Effect<{ readonly waited: number; readonly read: ReadonlyArray<DatabaseRow> | undefined }, StepFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const { run, sql } = session
    // a prepared session takes its final name here, before the lock a holder is named by
    const rename = applicationName === undefined ? "" : `SET application_name TO ${pg.escapeLiteral(applicationName)};\n`
    const firstAttempt = run(sql.unsafe(`${rename}${tryLockSql(ctx.database)};\n${familySql(ctx)}`)).pipe(
      Effect.flatMap((results) => {
        const [attempt, rows] = (results as unknown as ReadonlyArray<unknown>).slice(-2) as [ReadonlyArray<Attempt>, ReadonlyArray<DatabaseRow>]
        return Effect.as(outcome(attempt[0]), rows)
      })
    )
    const attempts = firstAttempt.pipe(
      // the wait may last up to the lock timeout: whoever started the reset hears who it waits for, once
      Effect.catchIf((error) => error instanceof LockBusy, () =>
        Effect.zipRight(onBusy, Effect.as(acquireExclusive(sql, run, ctx.database, timeout), undefined)))
    )
    const [waited, result] = yield* Effect.timed(Effect.either(attempts))
    if (result._tag === "Right") {
      session.locks.exclusive = true
      yield* Effect.addFinalizer(() =>
        session.locks.exclusive ? Effect.ignore(releaseExclusive(sql, run, ctx.database)) : Effect.void
      )
      return { waited: Duration.toMillis(waited), read: result.right }
    }
    const error = result.left
    if (error instanceof NoCreatedb) return yield* new StepFailure({ reason: "missing-createdb", step: "lock" })
    if (!(error instanceof LockBusy)) return yield* on("lock", ctx.maintenance)(Effect.fail(error))
    const sessions = yield* holders<SessionInfo>(sql, run, ctx.database).pipe(on("lock", ctx.maintenance))
    return yield* new StepFailure({
      reason: "lock-timeout",
      step: "lock",
      detail: `waited ${Math.round(Duration.toMillis(waited))} ms`,
      sessions
    })
  })

export interface DatabaseRow extends Spare.Row {
  /** For the workflow database only: the sessions connected to it, as JSON. */
  readonly sessions: ReadonlyArray<Omit<SessionInfo, "backendStart"> & { readonly backendStart: string | null }> | null
}

/** What exists before the drop, and what the reset will do about it. */
export interface Found {
  /** The workflow database, if it exists. */
  readonly current: DatabaseRow | undefined
  /** The database itself and every `<database>__*` database (templates, spares, retired). */
  readonly existing: ReadonlyArray<DatabaseRow>
  /** A marked template for the current migrations exists: clone it. */
  readonly warm: boolean
  /** How the existing database may be dropped: it is the harness's, confirmed, or empty and adopted. */
  readonly adoption: "absent" | "marked" | "confirmed" | "adopted-empty"
  /** Sessions connected to the workflow database: the drop terminates them. */
  readonly connected: ReadonlyArray<SessionInfo>
  /** The spares and retired databases, sorted by what the reset may do with them. */
  readonly spares: Spare.Spares
  /** The harness's other databases this reset leaves behind (older templates, ...): `prune`'s. */
  readonly stale: ReadonlyArray<string>
  /** A database with the template's name but no template marker, confirmed by name: the template step replaces it. */
  readonly templateConfirmed: string | undefined
}

/**
 * Lists the workflow database and every `<database>__*` database, with comment and ownership, and the
 * sessions connected to the workflow database: one round trip.
 */
const familySql = (ctx: Context): string => {
  const literal = (text: string) => pg.escapeLiteral(text)
  return `SELECT d.datname AS name, d.oid::text AS oid,
      shobj_description(d.oid, 'pg_database') AS comment, pg_has_role(current_user, d.datdba, 'USAGE') AS owned,
      CASE WHEN d.datname = ${literal(ctx.database)} THEN (SELECT coalesce(json_agg(s ORDER BY s."backendStart"), '[]')
        FROM (SELECT ${sessionColumns} FROM pg_stat_get_activity(NULL) a
          WHERE a.datid = d.oid AND a.pid <> pg_backend_pid()) s) END AS sessions
    FROM pg_database d WHERE d.datname = ${literal(ctx.database)} OR starts_with(d.datname, ${literal(Harness.harnessPrefix(ctx.database))})`
}

/**
 * What a prepared session reads ahead, without the lock: the same catalogs as the lock's read and the
 * swap's (databases, comments, roles, sessions), so their first lookups are not on the reset's path.
 */
export const warmUpSql = (ctx: Context): string =>
  // the functions are resolved (parsed) but not called: no lock is taken, no session ended
  `SELECT CASE WHEN false THEN pg_try_advisory_lock(0, hashtext('')) OR pg_terminate_backend(0, 0) END,
    (SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user);\n${familySql(ctx)};\n${Spare.identitySql(ctx.database)}`

const family = (session: Session, ctx: Context) => session.run(session.sql.unsafe<DatabaseRow>(familySql(ctx)))

const sessionsOf = (row: DatabaseRow | undefined): ReadonlyArray<SessionInfo> =>
  (row?.sessions ?? []).map((s) => ({ ...s, backendStart: s.backendStart === null ? null : new Date(s.backendStart) }))

/** Step "inspect": what exists, whether it is ours, who is connected; refuses an unmarked, non-empty database. */
export const inspect = (
  session: Session,
  ctx: Context,
  confirmDrop: string | undefined,
  inventory: Effect.Effect<Inventory, StepFailure>,
  on: OnFailure,
  read?: ReadonlyArray<DatabaseRow> | undefined
): Effect.Effect<Found, StepFailure> =>
  Effect.gen(function*() {
    const existing = read ?? (yield* family(session, ctx).pipe(on("inspect", ctx.database)))
    const current = existing.find((d) => d.name === ctx.database)
    const templateRow = existing.find((d) => d.name === ctx.template)
    const notOwned = existing.find((d) => !d.owned && (d.name === ctx.database || d.name === ctx.template))
    if (notOwned !== undefined) return yield* new StepFailure({ reason: "not-owner", step: "inspect", subject: notOwned.name })
    // the template's name is derived, but a database may carry it without being ours (made by hand, or a
    // reset killed between creating its template and marking it): replaced only when confirmed by name
    const unmarkedTemplate = templateRow !== undefined && !isTemplateMarked(templateRow.comment)
    if (unmarkedTemplate && confirmDrop !== ctx.template) {
      return yield* new StepFailure({ reason: "template-not-ours", step: "inspect", subject: ctx.template })
    }
    const templateConfirmed = unmarkedTemplate ? ctx.template : undefined
    const adoption = yield* standing(current, ctx, confirmDrop, inventory)
    const connected = sessionsOf(current)
    const warm = templateRow !== undefined && isTemplateMarked(templateRow.comment)
    const spares = Spare.classify(existing, ctx.database, ctx.hash)
    // left behind: not what a cold reset's template step removes (its older templates), nor what the
    // deferred work removes (marked stale spares and retired databases)
    const removed = new Set([...spares.stale, ...spares.retired].map((d) => d.name))
    const stale = Harness.stale(ctx.database, [ctx.template, ctx.spare], existing)
      .filter((d) => !removed.has(d.name))
      .filter((d) => warm || !(d.owned && d.name.startsWith(ctx.prefix) && isTemplateMarked(d.comment)))
      .map((d) => d.name)
    return { current, existing, warm, adoption, connected, spares, stale, templateConfirmed }
  })

/** The existing database's standing: only a marked one, a confirmed one or an empty one may be dropped. */
const standing = (
  current: DatabaseRow | undefined,
  ctx: Context,
  confirmDrop: string | undefined,
  inventory: Effect.Effect<Inventory, StepFailure>
): Effect.Effect<Found["adoption"], StepFailure> => {
  if (current === undefined) return Effect.succeed("absent")
  if (isMarked(current.comment)) return Effect.succeed("marked")
  if (confirmDrop === ctx.database) return Effect.succeed("confirmed")
  return Effect.flatMap(inventory, (found) =>
    found.total === 0
      ? Effect.succeed("adopted-empty" as const)
      : Effect.fail(new StepFailure({ reason: "unmarked-database-not-empty", step: "inspect", found: describeInventory(found) })))
}

/** The inspect step's line. */
export const describeFound = (found: Found): string => {
  const lookalikes = found.spares.untouchable.length === 0 ? "" : `; ${Spare.describeUntouchable(found.spares)}`
  const replaced = found.templateConfirmed === undefined ? "" : `; unmarked ${found.templateConfirmed} confirmed by ${confirmDropVariable}: replaced when the template is next built`
  if (found.current === undefined) return `no database yet; ${source(found)}${replaced}${lookalikes}${staleNote(found.stale)}`
  const standing = {
    absent: "",
    marked: "marked as the harness's",
    confirmed: `unmarked, confirmed by ${confirmDropVariable}`,
    "adopted-empty": "unmarked but empty (no object in it), adopted"
  }[found.adoption]
  const who = found.connected.length === 0 ? "nobody connected" : `${found.connected.length} session(s) connected`
  return `${standing}; ${who}; ${source(found)}${replaced}${lookalikes}${staleNote(found.stale)}`
}

const source = (found: Found): string =>
  found.spares.usable !== undefined
    ? `a spare to swap in (${found.spares.usable.name})`
    : found.warm
    ? "a template to clone (no spare)"
    : "no template: cold"

const staleNote = (stale: ReadonlyArray<string>): string =>
  stale.length === 0
    ? ""
    : `; ${stale.length} stale harness database(s) left (${stale.slice(0, 3).join(", ")}` +
      `${stale.length > 3 ? ", ..." : ""}): \`workflow-live prune\` removes them`

/** Only the workflow database, its own templates, spares and retired databases may ever be dropped. */
const droppable = (ctx: Context, name: string): boolean => name === ctx.database || Harness.isHarnessName(ctx.database, name)

/** Drops one database the reset may drop, terminating its sessions. */
export const dropDatabase = (session: Session, ctx: Context, name: string, step: string, on: OnFailure) =>
  droppable(ctx, name)
    ? session.run(session.sql`DROP DATABASE IF EXISTS ${session.sql(name)} WITH (FORCE)`).pipe(on(step, name))
    : Effect.fail(new StepFailure({ reason: "forbidden-drop", step, subject: name }))

/** Step "drop": the workflow database, if it exists, with the sessions connected to it. */
export const drop = (session: Session, ctx: Context, found: Found, on: OnFailure): Effect.Effect<string, StepFailure> =>
  found.current === undefined
    ? Effect.succeed("did not exist")
    : dropDatabase(session, ctx, ctx.database, "drop", on).pipe(
      Effect.mapError((error) =>
        error.reason === "database-in-use" ? new StepFailure({ ...error, sessions: found.connected }) : error
      ),
      Effect.as(
        `dropped` + (found.connected.length === 0
          ? ", nobody was connected"
          : `, terminated ${found.connected.length} session(s):\n${found.connected.map((s) => `    ${describeSession(s)}`).join("\n")}`)
      )
    )

const comment = (session: Session, name: string, text: string) =>
  session.run(session.sql`COMMENT ON DATABASE ${session.sql(name)} IS ${session.sql.literal(`'${text.replace(/'/g, "''")}'`)}`)

/** Step "create" or "clone": the database from template0 or from the template, then its marker. */
export const create = (session: Session, ctx: Context, warm: boolean, on: OnFailure): Effect.Effect<string, StepFailure> => {
  const step = warm ? "clone" : "create"
  const { run, sql } = session
  return run(sql`CREATE DATABASE ${sql(ctx.database)} TEMPLATE ${sql(warm ? ctx.template : "template0")}`).pipe(
    on(step, warm ? ctx.template : ctx.database),
    Effect.zipRight(comment(session, ctx.database, marker).pipe(on(step, ctx.database))),
    Effect.as(warm ? `from ${ctx.template}, marked` : "empty, from template0, marked")
  )
}

/** Step "template": kept only once the migrations succeeded; older templates of the database go. */
export const keepTemplate = (session: Session, ctx: Context, found: Found, on: OnFailure): Effect.Effect<string, StepFailure> =>
  Effect.gen(function*() {
    const { run, sql } = session
    const stale = found.existing.filter((d) =>
      d.name.startsWith(ctx.prefix) && d.owned && (isTemplateMarked(d.comment) || d.name === found.templateConfirmed)
    )
    for (const old of stale) yield* dropDatabase(session, ctx, old.name, "template", on)
    yield* run(sql`CREATE DATABASE ${sql(ctx.template)} TEMPLATE ${sql(ctx.database)}`).pipe(on("template", ctx.database))
    yield* run(sql`ALTER DATABASE ${sql(ctx.template)} ALLOW_CONNECTIONS false`).pipe(on("template", ctx.template))
    yield* comment(session, ctx.template, Harness.templateMarker(ctx.hash, ctx.harnessVersion)).pipe(on("template", ctx.template))
    const removed = stale.filter((d) => d.name !== ctx.template).length
    return `built ${ctx.template}${removed === 0 ? "" : `, removed ${removed} older template(s)`}`
  })

/**
 * Step "swap": ends the sessions on the workflow database, then in one transaction renames it away (marked
 * retired) and the spare into its place (marked as the workflow database). Retried while a terminated
 * session is still exiting (55006). Only a database the inspection allowed to be dropped is renamed away.
 */
export const swap = (
  session: Session,
  ctx: Context,
  found: Found,
  on: OnFailure
): Effect.Effect<{ readonly detail: string; readonly identity: Spare.Identity | undefined }, StepFailure> =>
  Effect.gen(function*() {
    const spare = found.spares.usable
    if (spare === undefined || !Spare.ownPattern(ctx.database, spare.name)) {
      return yield* new StepFailure({ reason: "forbidden-drop", step: "swap", subject: spare?.name ?? ctx.spare })
    }
    const { run, sql } = session
    const taken = found.existing.map((d) => d.name)
    let attempts = 0
    const attempt = Effect.suspend(() => {
      attempts++
      const retired = found.current === undefined ? undefined : Spare.freeRetiredName(ctx.database, taken, Date.now())
      const statement = Spare.swapSql({ database: ctx.database, spare: spare.name, retired, marker, at: new Date() })
      // one round trip: the sessions end (waited for), then the renames, then what the name resolves to
      return run(sql.unsafe(`${Spare.terminateSql(ctx.database)};\n${statement}`)).pipe(
        Effect.map((results) => {
          const sets = results as unknown as ReadonlyArray<ReadonlyArray<Spare.Identity>>
          return { retired, identity: sets[sets.length - 1]?.[0] }
        }),
        on("swap", ctx.database)
      )
    })
    const { identity, retired } = yield* Spare.retryWhileInUse(attempt).pipe(
      Effect.mapError((error) =>
        error.reason === "database-in-use" ? new StepFailure({ ...error, sessions: found.connected }) : error
      )
    )
    const who = found.connected.length === 0
      ? "nobody was connected"
      : `terminated ${found.connected.length} session(s):\n${found.connected.map((s) => `    ${describeSession(s)}`).join("\n")}`
    const detail = `${spare.name} renamed into place, marked${attempts === 1 ? "" : ` (attempt ${attempts}: a session was still leaving)`}` +
      (retired === undefined ? "" : `; the old one renamed to ${retired}, marked retired`) + `; ${who}`
    return { detail, identity }
  })

/** Opens a first connection to a new database and closes it. */
export type Warm = (database: string) => Effect.Effect<void, StepFailure>

/**
 * Step "spare", the deferred work, off the critical path: drops the retired databases and the stale spares
 * (marked ones only), then clones the next spare from the template. Reads the databases afresh: it runs
 * after the swap. With `keep` false (spares turned off) every marked spare goes and none is made.
 */
export const prepareSpare = (
  session: Session,
  ctx: Context,
  keep: boolean,
  on: OnFailure,
  warm: Warm = () => Effect.void
): Effect.Effect<string, StepFailure> =>
  Effect.gen(function*() {
    const { run, sql } = session
    const rows = yield* family(session, ctx).pipe(on("spare", ctx.database))
    const spares = Spare.classify(rows, ctx.database, ctx.hash)
    const gone = [...spares.retired, ...spares.stale, ...(keep || spares.usable === undefined ? [] : [spares.usable])]
    for (const row of gone) yield* dropDatabase(session, ctx, row.name, "spare", on)
    const done = gone.length === 0 ? [] : [`dropped ${gone.map((r) => r.name).join(", ")}`]
    const template = rows.find((r) => r.name === ctx.template)
    const blocked = rows.find((r) => r.name === ctx.spare && r !== spares.usable && !gone.includes(r))
    if (!keep) done.push("spares turned off")
    else if (spares.usable !== undefined) done.push(`${ctx.spare} ready`)
    else if (blocked !== undefined) done.push(`no spare: ${Spare.describeUntouchable({ ...spares, untouchable: [blocked] })}`)
    else if (template === undefined || !isTemplateMarked(template.comment)) done.push("no template to clone a spare from")
    else {
      // the template says which spare is being cloned until the spare carries its own marker (see
      // Harness.cloningNote): a deferred work killed in between leaves a spare the next one knows is its own
      const marker = Harness.withoutCloningNote(template.comment!)
      yield* comment(session, ctx.template, `${marker}${Harness.cloningNote(ctx.spare)}`).pipe(on("spare", ctx.template))
      yield* run(sql`CREATE DATABASE ${sql(ctx.spare)} TEMPLATE ${sql(ctx.template)}`).pipe(on("spare", ctx.template))
      yield* comment(session, ctx.spare, Spare.spareMarker(ctx.hash)).pipe(on("spare", ctx.spare))
      yield* comment(session, ctx.template, marker).pipe(on("spare", ctx.template))
      // a first connection builds the new database's relcache init file: the swap's identity check then
      // does not; its backend must be gone before the lock goes, or the next rename would wait for it
      yield* warm(ctx.spare)
      yield* run(sql.unsafe(Spare.terminateSql(ctx.spare))).pipe(on("spare", ctx.spare))
      done.push(`cloned ${ctx.spare} from ${ctx.template}, warmed`)
    }
    return done.join("; ")
  })

/** Step "identity" on a fresh connection to the new database: it is the workflow database. */
export const checkIdentity = (client: PgClient.PgClient, ctx: Context, on: OnFailure): Effect.Effect<string, StepFailure> =>
  client<{ db: string }>`SELECT pg_catalog.current_database() AS db`.pipe(
    on("identity", ctx.database),
    Effect.flatMap(([row]) =>
      row?.db === ctx.database
        ? Effect.succeed(row.db)
        : Effect.fail(new StepFailure({ reason: "identity-mismatch", step: "identity", subject: row?.db ?? "(no row)" }))
    )
  )

/**
 * Step "identity" after a swap, on what the swap's own transaction read back as it committed: the workflow
 * database's name resolves to the spare (`oid`), marked as the workflow database. Nothing is written into it
 * by the reset; every connection that writes there (the Migrator's, the tests') checks `current_database()`.
 */
export const checkSwapped = (
  identity: Spare.Identity | undefined,
  ctx: Context,
  oid: string
): Effect.Effect<Spare.Identity, StepFailure> =>
  identity !== undefined && identity.name === ctx.database && identity.oid === oid && isMarked(identity.comment)
    ? Effect.succeed(identity)
    : Effect.fail(
      new StepFailure({
        reason: "identity-mismatch",
        step: "identity",
        subject: identity === undefined
          ? "(no database by that name after the swap)"
          : identity.oid !== oid
          ? `${identity.name} (oid ${identity.oid}, not the swapped-in spare's ${oid})`
          : `${identity.name} (oid ${oid}, the spare's, but not marked as the workflow database)`
      })
    )
