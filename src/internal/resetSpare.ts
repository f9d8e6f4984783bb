/**
 * The spare: a clone of the current template, kept ready, that a warm reset renames into place instead of
 * dropping and cloning on the critical path (a rename costs milliseconds, a drop forces a checkpoint). The
 * database it replaces is renamed away and marked retired; the deferred work drops it and clones the next
 * spare, off the critical path. Only marked names of the workflow database's own patterns are ever renamed
 * or dropped: an unmarked lookalike (made by hand) is reported, never touched.
 */
import { Duration, Effect, Schedule } from "effect"
import pg from "pg"
import * as Harness from "./harnessDatabases.js"

/** The prefix of every spare of `database`. */
export const sparePrefix = (database: string): string => `${Harness.harnessPrefix(database)}spare_`

/** The spare of `database` for migrations `hash`. */
export const spareName: (database: string, hash: string) => string = Harness.spareName

/** The prefix of every retired (renamed-away) `database`. */
export const retiredPrefix = (database: string): string => `${Harness.harnessPrefix(database)}old_`

/** A retired `database`'s name: the prefix and the rename's time in milliseconds (13 digits). */
export const retiredName = (database: string, stamp: number): string =>
  `${retiredPrefix(database)}${String(Math.floor(stamp)).padStart(13, "0")}`

/** The longest name the reset gives one of its databases for `database`, to hold against 63 bytes. */
export const longestName = (database: string, hash: string): string => {
  const spare = spareName(database, hash)
  const retired = retiredName(database, Date.now())
  return Buffer.byteLength(spare) >= Buffer.byteLength(retired) ? spare : retired
}

/** The spare's marker: the migrations it holds. */
export const spareMarker = (hash: string): string =>
  `${Harness.spareMarkerPrefix} for migrations ${hash}; a reset renames it into place`

/** The marker of a database renamed away by a reset: the deferred work (or the next reset's) drops it. */
export const retiredMarker = (at: Date): string =>
  `${Harness.retiredMarkerPrefix} by a reset at ${at.toISOString()}; the reset's deferred work drops it`

const spareMarked = (comment: string | null): boolean => comment !== null && comment.startsWith(Harness.spareMarkerPrefix)
const retiredMarked = (comment: string | null): boolean => comment !== null && comment.startsWith(Harness.retiredMarkerPrefix)

/** A database of the workflow database's family, as the reset's inspection lists it. */
export interface Row {
  readonly name: string
  readonly oid: string
  readonly comment: string | null
  readonly owned: boolean
}

/** The spares and retired databases of the workflow database, sorted by what the reset may do with them. */
export interface Spares {
  /** The marked spare for the current migrations: a swap renames it into place. */
  readonly usable: Row | undefined
  /** Marked spares of other migrations: the deferred work drops them. */
  readonly stale: ReadonlyArray<Row>
  /** Marked retired databases: the deferred work drops them. */
  readonly retired: ReadonlyArray<Row>
  /**
   * Spare or retired lookalikes without any harness marker (made by hand), or another role's: never touched,
   * and said so. (Marked ones under other names are `prune`'s, named in the inspect line's stale note.)
   */
  readonly untouchable: ReadonlyArray<Row>
}

const spareHash = /^[0-9a-f]{12}$/
const retiredStamp = /^[0-9]{13}$/

/** Whether `name` is one of `database`'s spare or retired names (the guard's pattern, marker not checked). */
export const ownPattern = (database: string, name: string): boolean =>
  (name.startsWith(sparePrefix(database)) && spareHash.test(name.slice(sparePrefix(database).length))) ||
  (name.startsWith(retiredPrefix(database)) && retiredStamp.test(name.slice(retiredPrefix(database).length)))

/** Sorts the rows of `database`'s family (any rows; others are ignored). */
export const classify = (rows: ReadonlyArray<Row>, database: string, hash: string): Spares => {
  const family = rows.filter((r) => r.name.startsWith(sparePrefix(database)) || r.name.startsWith(retiredPrefix(database)))
  // an unmarked spare the template's comment says was being cloned: a deferred work killed before marking it
  const halfMade = rows.map((r) => r.name.startsWith(Harness.templatePrefix(database)) ? Harness.cloningSpare(r.comment) : undefined)
    .filter((name): name is string => name !== undefined)
  const ours = (r: Row) =>
    r.owned && ownPattern(database, r.name) &&
    (r.name.startsWith(sparePrefix(database))
      ? spareMarked(r.comment) || (r.comment === null && halfMade.includes(r.name))
      : retiredMarked(r.comment))
  const spares = family.filter((r) => ours(r) && r.name.startsWith(sparePrefix(database)))
  return {
    usable: spares.find((r) => r.name === spareName(database, hash) && r.comment === spareMarker(hash)),
    stale: spares.filter((r) => r.name !== spareName(database, hash) || r.comment !== spareMarker(hash)),
    retired: family.filter((r) => ours(r) && r.name.startsWith(retiredPrefix(database))),
    untouchable: family.filter((r) => !ours(r) && (!r.owned || !Harness.isHarnessMarked(r.comment)))
  }
}

/** Why each untouchable lookalike is left alone, for the inspect and spare lines. */
export const describeUntouchable = (spares: Spares): string =>
  spares.untouchable.map((r) =>
    `\`${r.name}\` looks like the harness's but ${r.owned ? "has no workflow-live marker" : "belongs to another role"}: ` +
    `left untouched (drop or rename it if it is yours to lose)`
  ).join("; ")

const literal = (text: string): string => pg.escapeLiteral(text)
const ident = (name: string): string => pg.escapeIdentifier(name)

/**
 * Ends every other session on `database`, waiting up to 2 s for each to exit (a rename fails until then).
 * Read from the function under pg_stat_activity: the view's joins cost a fresh backend ~0.5 ms to plan.
 */
export const terminateSql = (database: string): string =>
  `SELECT count(pg_terminate_backend(a.pid, 2000)) FROM pg_stat_get_activity(NULL) a
    WHERE a.datid = (SELECT oid FROM pg_database WHERE datname = ${literal(database)}) AND a.pid <> pg_backend_pid()`

/**
 * The swap, one transaction (one round trip): the workflow database (if any) is renamed away and marked
 * retired, the spare renamed into place and marked as the workflow database, and what the name now
 * resolves to read back. Either all of it happens or nothing does: there is no moment in which the
 * workflow database carries a wrong marker.
 */
export const swapSql = (args: {
  readonly database: string
  readonly spare: string
  readonly retired: string | undefined
  readonly marker: string
  readonly at: Date
}): string =>
  // no explicit BEGIN: a failed statement would leave the session in an aborted block; the several
  // statements of one simple query are one implicit transaction, rolled back as a whole on error
  [
    ...(args.retired === undefined ? [] : [
      `ALTER DATABASE ${ident(args.database)} RENAME TO ${ident(args.retired)}`,
      `COMMENT ON DATABASE ${ident(args.retired)} IS ${literal(retiredMarker(args.at))}`
    ]),
    `ALTER DATABASE ${ident(args.spare)} RENAME TO ${ident(args.database)}`,
    `COMMENT ON DATABASE ${ident(args.database)} IS ${literal(args.marker)}`,
    identitySql(args.database)
  ].join(";\n")

/** What the workflow database's name resolves to, read last in the swap's own transaction (its commit state). */
export const identitySql = (database: string): string =>
  `SELECT oid::text AS oid, datname AS name, shobj_description(oid, 'pg_database') AS comment
    FROM pg_database WHERE datname = ${literal(database)}`

/** The row `identitySql` read. */
export interface Identity {
  readonly oid: string
  readonly name: string
  readonly comment: string | null
}

/** A retired name not yet taken: the rename's time, moved on a millisecond while it is. */
export const freeRetiredName = (database: string, taken: ReadonlyArray<string>, now: number): string => {
  let stamp = now
  while (taken.includes(retiredName(database, stamp))) stamp++
  return retiredName(database, stamp)
}

/** A terminated session may still be exiting when the rename runs (55006): retried briefly. */
export const retryWhileInUse = <A, E extends { readonly code?: string | undefined }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: Schedule.spaced(Duration.millis(20)).pipe(Schedule.upTo(Duration.seconds(3))),
    while: (error) => error.code === "55006"
  })
