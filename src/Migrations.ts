/**
 * The lane's schema: `NNNN_name.sql` files in a directory, run by `@effect/sql-pg`'s `PgMigrator`, and
 * the hash (ordered names, contents, harness version) that names the template database a warm reset
 * clones.
 */
// the module alone: the package index loads every platform service (~0.35 s more per worker)
import * as NodeCommandExecutor from "@effect/platform-node/NodeCommandExecutor"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as PgMigrator from "@effect/sql-pg/PgMigrator"
import { Cause, Data, Effect, Layer, Option } from "effect"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { inventorySql } from "./internal/databaseInventory.js"
import * as HarnessDatabases from "./internal/harnessDatabases.js"
import { classify } from "./internal/pgError.js"
import { migrationsDirectoryVariable } from "./internal/variables.js"

/** The package's own migrations, resolved from this file so it works from any working directory. */
export const defaultDirectory: string = fileURLToPath(new URL("../migrations/", import.meta.url))

/** The table the Migrator records applied migrations in. */
export const table = "effect_sql_migrations"

/** One migration file. */
export interface Migration {
  readonly id: number
  /** The part after the id, as the Migrator records it. */
  readonly name: string
  /** The file name, as a person looks for it: `0002_alert_profiles.sql`. */
  readonly file: string
  readonly sql: string
}

/** The migrations of one directory, in order, with the hash that names their template. */
export interface MigrationSet {
  readonly directory: string
  readonly migrations: ReadonlyArray<Migration>
  /** 12 hex digits of SHA-256 over the harness version and the ordered file names and contents. */
  readonly hash: string
  readonly harnessVersion: string
}

/** Every reason, for docs and tests. */
export const reasons = [
  "directory-missing",
  "not-a-directory",
  "unreadable",
  "bad-file-name",
  "duplicate-id",
  "no-migrations",
  "migration-failed",
  "migration-half-applied",
  "migrator-failed"
] as const

/** Why the migrations could not be loaded or applied. */
export type MigrationsReason = typeof reasons[number]

/** The migrations could not be loaded, or one of them failed. */
export class MigrationsError extends Data.TaggedError("MigrationsError")<{
  readonly reason: MigrationsReason
  readonly directory: string
  /** The file concerned (`0002_broken.sql`), when there is one. */
  readonly file: string | undefined
  /** The SQL error or file-system error, in the driver's words. */
  readonly detail: string
  /**
   * For a failed migration: what the batch left in the database after the rollback, in words (empty when
   * nothing); `undefined` when it could not be looked at.
   */
  readonly leftBehind?: string | undefined
}> {
  override get message(): string {
    return migrationsMessage(this)
  }
}

const dirHint = `(the directory comes from ${migrationsDirectoryVariable}, default: the package's migrations/)`

const lines = (...text: ReadonlyArray<string>): string => text.join("\n")

const explanations: { readonly [R in MigrationsReason]: (e: MigrationsError) => string } = {
  "directory-missing": (e) =>
    lines(
      `The migrations directory ${e.directory} does not exist.`,
      `  Why: the reset builds the schema from it; without it the lane would run against an empty database.`,
      `  Fix: point ${migrationsDirectoryVariable} at the directory holding your NNNN_name.sql files ${dirHint}.`
    ),
  "not-a-directory": (e) =>
    lines(
      `The migrations path ${e.directory} is a file, not a directory.`,
      `  Why: the reset reads every NNNN_name.sql file in a directory; it cannot read migrations out of one file.`,
      `  Fix: point ${migrationsDirectoryVariable} at the directory that holds it (\`${dirname(e.directory)}\`?) ${dirHint}.`
    ),
  "unreadable": (e) =>
    lines(
      `Cannot read ${e.file === undefined ? `the migrations directory ${e.directory}` : `${e.file} in ${e.directory}`}.`,
      `  Detail: ${e.detail}`,
      `  Why: an unreadable migration would make the schema differ from the one the suites expect.`,
      e.file === undefined
        ? `  Fix: check the directory's permissions (\`ls -ld ${e.directory}\`).`
        : `  Fix: make ${e.file} a readable file, or move it out of the directory (\`ls -l ${e.directory}\` shows what it is).`
    ),
  "bad-file-name": (e) =>
    lines(
      `${e.file} in ${e.directory} is not named NNNN_name.sql.`,
      `  Why: the Migrator orders and records migrations by the number in front; a file it cannot number ` +
        `would be silently skipped.`,
      `  Fix: rename it, e.g. \`0006_${(e.file ?? "name").replace(/\.sql$/i, "").replace(/[^a-z0-9_]/gi, "_")}.sql\`, ` +
        `with a number above the last one.`
    ),
  "duplicate-id": (e) =>
    lines(
      `Two migrations in ${e.directory} share a number: ${e.detail}.`,
      `  Why: the Migrator records one migration per number; the second would never run.`,
      `  Fix: renumber one of them above the last migration.`
    ),
  "no-migrations": (e) =>
    lines(
      `${e.directory} holds no NNNN_name.sql migrations.`,
      `  Why: the lane's database would have no schema at all, which is never what a suite wants.`,
      `  Fix: point ${migrationsDirectoryVariable} at your migrations ${dirHint}.`
    ),
  "migration-failed": (e) =>
    lines(
      `Migration ${e.file} failed: ${e.detail}`,
      e.leftBehind === undefined
        ? `  The Migrator's transaction was rolled back; what the database holds now could not be checked.`
        : `  Nothing was half-applied: after the Migrator's transaction was rolled back, the database holds ` +
          `nothing from this batch (${table} is unchanged).`,
      `  Fix: correct the file and run \`workflow-live reset\` again (file: ${join(e.directory, e.file ?? "")}).`
    ),
  "migration-half-applied": (e) =>
    lines(
      `Migration ${e.file} failed: ${e.detail}`,
      `  Part of the batch stayed although the Migrator's transaction was rolled back: the database now holds ` +
        `${e.leftBehind}. A migration committed on its own (a COMMIT, or a statement that cannot run in a transaction).`,
      `  Fix: remove the COMMIT from ${join(e.directory, e.file ?? "")}, correct the failing statement, and run ` +
        `\`workflow-live reset\` (it drops the half-migrated database and starts from scratch).`
    ),
  "migrator-failed": (e) =>
    lines(
      `The Migrator could not run the migrations in ${e.directory}: ${e.detail}`,
      `  Why: the schema is not in place, so the suites cannot run.`,
      `  Fix: check that the server is up and the role can create tables, then run \`workflow-live reset\`.`
    )
}

const migrationsMessage = (error: MigrationsError): string => explanations[error.reason](error)

const fileName = /^(\d+)_([^.]+)\.sql$/

/** Parses `NNNN_name.sql` into its id and name; `None` for any other name. */
export const parseFileName = (file: string): Option.Option<{ readonly id: number; readonly name: string }> => {
  const match = fileName.exec(file)
  return match === null ? Option.none() : Option.some({ id: Number(match[1]), name: match[2]! })
}

/** The template hash: ordered file names and contents, and the harness version. */
export const hash = (migrations: ReadonlyArray<Migration>, harnessVersion: string): string => {
  const digest = createHash("sha256").update(`workflow-live@${harnessVersion}\n`)
  for (const migration of migrations) {
    digest.update(`${migration.file}\n${Buffer.byteLength(migration.sql)}\n${migration.sql}\n`)
  }
  return digest.digest("hex").slice(0, 12)
}

/** The template database that holds `database` migrated to `hash`. */
export const templateName = (database: string, hash: string): string => `${templatePrefix(database)}${hash}`

/** The prefix every template of `database` starts with. */
export const templatePrefix = (database: string): string => HarnessDatabases.templatePrefix(database)

let cachedVersion: string | undefined

/** The harness's version (package.json), part of the template hash so an upgrade rebuilds the template. */
// synchronous, like the migrations' files: one small file, and no thread pool started for it in a CLI reset
export const harnessVersion: Effect.Effect<string> = Effect.sync(() => {
  if (cachedVersion === undefined) {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8")
    cachedVersion = String((JSON.parse(text) as { version?: unknown }).version ?? "0.0.0")
  }
  return cachedVersion
})

/** Reads and checks the migrations of a directory (default: the package's own). */
export const load = (directory: string = defaultDirectory): Effect.Effect<MigrationSet, MigrationsError> =>
  Effect.gen(function*() {
    const absolute = isAbsolute(directory) ? directory : resolve(directory)
    const fail = (reason: MigrationsReason, file: string | undefined, detail: string) =>
      new MigrationsError({ reason, directory: absolute, file, detail })
    // Synchronous on purpose: 100 small files take ~2 ms this way, and 25-60 ms through libuv's thread
    // pool on a busy machine, which a warm reset (the whole point of the template) would feel.
    const entries = yield* Effect.try({
      try: () => readdirSync(absolute, { withFileTypes: true }),
      catch: (cause) =>
        (cause as { code?: string }).code === "ENOENT"
          ? fail("directory-missing", undefined, String(cause))
          : (cause as { code?: string }).code === "ENOTDIR"
          ? fail("not-a-directory", undefined, String(cause))
          : fail("unreadable", undefined, String(cause))
    })
    // A link to a file is a migration (one shared between projects, linked in). A `.sql` entry that is no
    // file (a directory, a link to nothing) is refused: skipped, the schema would be short of it unsaid
    const files: Array<string> = []
    for (const entry of entries.filter((e) => e.name.toLowerCase().endsWith(".sql"))) {
      const isFile = entry.isFile() || (entry.isSymbolicLink() && (yield* Effect.try({
        try: () => statSync(join(absolute, entry.name), { throwIfNoEntry: false })?.isFile() === true,
        catch: (cause) => fail("unreadable", entry.name, String(cause))
      })))
      if (!isFile) {
        const what = entry.isDirectory() ? "a directory" : entry.isSymbolicLink() ? "a link to no file" : "not a regular file"
        return yield* fail("unreadable", entry.name, `${entry.name} is ${what}, not a migration file`)
      }
      files.push(entry.name)
    }
    const parsed: Array<{ id: number; name: string; file: string }> = []
    for (const file of files) {
      const name = parseFileName(file)
      if (Option.isNone(name)) return yield* fail("bad-file-name", file, "")
      parsed.push({ ...name.value, file })
    }
    if (parsed.length === 0) return yield* fail("no-migrations", undefined, "")
    parsed.sort((a, b) => a.id - b.id || a.file.localeCompare(b.file))
    for (let i = 1; i < parsed.length; i++) {
      if (parsed[i]!.id === parsed[i - 1]!.id) {
        return yield* fail("duplicate-id", parsed[i]!.file, `${parsed[i - 1]!.file} and ${parsed[i]!.file}`)
      }
    }
    const migrations = yield* Effect.forEach(parsed, (entry) =>
      Effect.try({
        try: (): Migration => ({ ...entry, sql: readFileSync(join(absolute, entry.file), "utf8") }),
        catch: (cause) => fail("unreadable", entry.file, String(cause))
      }))
    const version = yield* harnessVersion
    return { directory: absolute, migrations, hash: hash(migrations, version), harnessVersion: version }
  })

/** A Migrator loader for an already-read set: no file access while the Migrator holds its transaction. */
export const loader = (set: MigrationSet): PgMigrator.Loader =>
  Effect.succeed(
    set.migrations.map((migration): PgMigrator.ResolvedMigration => [
      migration.id,
      migration.name,
      // A parameterless query goes over the simple protocol, so a file may hold several statements.
      Effect.succeed(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(migration.sql)))
    ])
  )

const describeSqlError = (cause: unknown, source: string | undefined): string => {
  const classified = classify(cause)
  let inner: unknown = cause
  for (let i = 0; i < 4 && typeof inner === "object" && inner !== null && "cause" in inner; i++) {
    inner = (inner as { cause: unknown }).cause
  }
  const pg = (typeof inner === "object" && inner !== null ? inner : {}) as {
    message?: string
    code?: string
    position?: string
    detail?: string
    hint?: string
  }
  if (pg.message === undefined) return classified.detail
  const line = pg.position !== undefined && source !== undefined
    ? ` (line ${source.slice(0, Number(pg.position)).split("\n").length})`
    : ""
  return [
    `${pg.message}${pg.code === undefined ? "" : ` [SQLSTATE ${pg.code}]`}${line}`,
    ...(pg.detail ? [`detail: ${pg.detail}`] : []),
    ...(pg.hint ? [`hint: ${pg.hint}`] : [])
  ].join("; ")
}

/**
 * What the database holds before the migrations run, to tell afterwards what a failed batch left:
 * `empty` (just created from template0: anything found was left), `snapshot` (read it first) or `none`
 * (a clone of the template, where nothing is pending: not read).
 */
export type Baseline = "empty" | "snapshot" | "none"

/** Objects (kind and name) and the ids the Migrator's table records, at one moment. */
interface State {
  readonly objects: ReadonlyArray<string>
  readonly recorded: ReadonlyArray<number>
}

// the Migrator creates its own table before its transaction: only its rows tell what it recorded
const isOwnTable = (found: string): boolean => new RegExp(`^table [^.]+\\.${table}$`).test(found)

const stateNow: Effect.Effect<State, unknown, SqlClient.SqlClient> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all({
    objects: sql.unsafe<{ kind: string; name: string }>(inventorySql(10_000)).pipe(
      Effect.map((rows) => rows.map((row) => `${row.kind} ${row.name}`).filter((found) => !isOwnTable(found)))
    ),
    recorded: sql.unsafe<{ id: number }>(
      `SELECT migration_id AS id FROM ${table} ORDER BY 1`
    ).pipe(Effect.map((rows) => rows.map((row) => Number(row.id))), Effect.orElseSucceed(() => []))
  }))

/** What the failed batch left: objects and recorded migrations that were not there before ("" for none). */
const leftBehind = (set: MigrationSet, before: State | undefined): Effect.Effect<string | undefined, never, SqlClient.SqlClient> =>
  stateNow.pipe(
    Effect.map((after) => {
      const objects = after.objects.filter((found) => before === undefined || !before.objects.includes(found))
      const recorded = after.recorded.filter((id) => before === undefined || !before.recorded.includes(id))
      const parts = [
        ...(objects.length === 0 ? [] : [
          objects.slice(0, 5).join(", ") + (objects.length > 5 ? ` and ${objects.length - 5} more` : "")
        ]),
        ...(recorded.length === 0 ? [] : [
          `${table} rows claiming ${
            recorded.map((id) => set.migrations.find((m) => m.id === id)?.file ?? String(id)).join(", ")
          } applied`
        ])
      ]
      return parts.join("; and ")
    }),
    Effect.orElseSucceed(() => undefined)
  )

const failedMigration = (set: MigrationSet, failed: PgMigrator.MigrationError, left: string | undefined): MigrationsError => {
  const id = Number(/"(\d+)_/.exec(failed.message)?.[1])
  const migration = set.migrations.find((m) => m.id === id)
  return new MigrationsError({
    reason: left !== undefined && left !== "" ? "migration-half-applied" : "migration-failed",
    directory: set.directory,
    file: migration?.file ?? failed.message,
    detail: describeSqlError(failed.cause, migration?.sql),
    leftBehind: left
  })
}

const migratorFailed = (set: MigrationSet, error: { readonly _tag: string; readonly message: string }): MigrationsError =>
  new MigrationsError({
    reason: "migrator-failed",
    directory: set.directory,
    file: undefined,
    detail: error._tag === "MigrationError" ? error.message : describeSqlError(error as SqlError, undefined)
  })

/** What PgMigrator asks for (its command executor is only used to dump a schema, which is never asked). */
const migratorContext = Layer.mergeAll(NodePath.layer, NodeCommandExecutor.layer).pipe(Layer.provideMerge(NodeFileSystem.layer))

/**
 * Applies the pending migrations of the set on the client in context; returns those applied. A failed
 * migration (a defect inside the Migrator) becomes a typed error naming the file and saying what the
 * batch left in the database: `migration-failed` (nothing) or `migration-half-applied`.
 */
export const run = (
  set: MigrationSet,
  options: { readonly baseline?: Baseline | undefined } = {}
): Effect.Effect<ReadonlyArray<Migration>, MigrationsError, PgClient.PgClient | SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const baseline = options.baseline ?? "snapshot"
    const before: State | undefined = baseline === "empty"
      ? { objects: [], recorded: [] }
      : baseline === "snapshot"
      ? yield* stateNow.pipe(Effect.orElseSucceed(() => undefined))
      : undefined
    return yield* PgMigrator.run({ loader: loader(set), table }).pipe(
      Effect.map((applied) => {
        const ids = new Set(applied.map(([id]) => id))
        return set.migrations.filter((migration) => ids.has(migration.id))
      }),
      Effect.catchAllCause((cause): Effect.Effect<never, MigrationsError, SqlClient.SqlClient> => {
        const failed = Cause.find(cause, (reason) =>
          Cause.isDieType(reason) && reason.defect instanceof PgMigrator.MigrationError
            ? Option.some(reason.defect)
            : Option.none())
        if (Option.isSome(failed) && failed.value.reason === "failed") {
          const left = baseline === "none" || before === undefined ? Effect.succeed(undefined) : leftBehind(set, before)
          return Effect.flatMap(left, (found) => Effect.fail(failedMigration(set, failed.value, found)))
        }
        const typed = Cause.failureOption(cause)
        if (Option.isNone(typed) && !Option.isSome(failed)) return Effect.failCause(cause as Cause.Cause<never>)
        return Effect.fail(migratorFailed(set, Option.isSome(typed) ? typed.value : failed.pipe(Option.getOrThrow)))
      })
    )
  }).pipe(Effect.provide(migratorContext))

/** Loads the directory and migrates the database of the client in context. */
export const layer = (
  options: { readonly directory?: string | undefined } = {}
): Layer.Layer<never, MigrationsError, PgClient.PgClient | SqlClient.SqlClient> =>
  Layer.effectDiscard(Effect.flatMap(load(options.directory), run))
