/**
 * The words of a failed reset: for each reason, what went wrong, why the harness refuses, and the exact
 * fix. `DatabaseResetError` builds its message here from its structured fields.
 */
import { fixFor } from "./pgError.js"
import { provided } from "./currentTest.js"
import * as Variables from "./variables.js"

/** Every reason a reset can fail with. */
export const resetReasons = [
  "connection-refused",
  "timeout",
  "unknown-host",
  "authentication-failed",
  "tls",
  "server-unavailable",
  "too-many-connections",
  "read-only-server",
  "insufficient-resources",
  "session-terminated",
  "maintenance-database-missing",
  "missing-createdb",
  "not-owner",
  "lock-timeout",
  "database-in-use",
  "migration-failed",
  "migration-half-applied",
  "unmarked-database-not-empty",
  "identity-mismatch",
  "database-vanished",
  "name-too-long",
  "forbidden-drop",
  "template-not-ours",
  "protection-lost",
  "server-error"
] as const

/** Why a reset failed. */
export type ResetReason = typeof resetReasons[number]

/** A session connected to a database, as `pg_stat_activity` shows it. */
export interface SessionInfo {
  readonly pid: number
  readonly user: string | null
  readonly applicationName: string
  readonly client: string | null
  readonly state: string | null
  readonly backendStart: Date | null
}

/** The fields a message is built from. */
export interface MessageFields {
  readonly reason: ResetReason
  readonly database: string
  readonly subject: string
  readonly step: string
  readonly where: string
  readonly user: string
  readonly detail: string
  readonly sessions: ReadonlyArray<SessionInfo>
  readonly file: string | undefined
  /** What the database holds, in words (unmarked database, half-applied migration). */
  readonly found?: string | undefined
  readonly code?: string | undefined
}

interface Explained {
  readonly what: string
  readonly why: string
  readonly fix: string
}

/**
 * The lock is held by the lane this process belongs to: the lane itself (its pid in the holder's
 * application name), or, in one of its Vitest workers, the lane that handed the worker its settings.
 */
const ownLaneHolds = (sessions: ReadonlyArray<SessionInfo>): boolean => {
  const lanePid = (provided("workflowLiveHttp") as { readonly lanePid?: number } | undefined)?.lanePid
  const own = [process.pid, ...(lanePid === undefined ? [] : [lanePid])]
  return sessions.some((s) => own.some((pid) => s.applicationName.endsWith(`lane running tests (pid ${pid})`)))
}

/** One session in words, for the message and the reset's drop line. */
export const describeSession = (s: SessionInfo): string =>
  [
    `pid ${s.pid}`,
    `application "${s.applicationName}"`,
    ...(s.user === null ? [] : [`user ${s.user}`]),
    `from ${s.client ?? "local socket"}`,
    ...(s.state === null ? [] : [`state ${s.state}`]),
    ...(s.backendStart === null ? [] : [`since ${s.backendStart.toISOString()}`])
  ].join(", ")

const rerun = "run `workflow-live reset` again"

const cannotConnect = (f: MessageFields, what: string): Explained => ({
  what,
  why: `the reset connects to the server's maintenance database \`${f.subject}\` with the credentials of ` +
    `${Variables.dsnVariable}, and could not.`,
  fix: fixFor(f.reason as never, f.where, f.user, f.subject, f.code)
})

const serverState = (f: MessageFields, what: string): Explained => ({
  what,
  why: `the reset cannot drop or create \`${f.database}\` while the server refuses it; nothing was left half-done ` +
    `that the next reset would not redo.`,
  fix: fixFor(f.reason as never, f.where, f.user, f.subject, f.code)
})

const explanations: { readonly [R in ResetReason]: (f: MessageFields) => Explained } = {
  "connection-refused": (f) => cannotConnect(f, `nothing accepts connections on ${f.where}.`),
  "timeout": (f) => cannotConnect(f, `${f.where} accepted no PostgreSQL conversation in time.`),
  "unknown-host": (f) => cannotConnect(f, `the host of ${f.where} does not resolve.`),
  "authentication-failed": (f) => cannotConnect(f, `the server refused user \`${f.user}\` (connecting to \`${f.subject}\`).`),
  "tls": (f) => cannotConnect(f, `the TLS handshake with ${f.where} failed.`),
  "server-unavailable": (f) => serverState(f, `the server on ${f.where} is starting up, shutting down or in recovery.`),
  "too-many-connections": (f) => serverState(f, `the server on ${f.where} has no free connection slot.`),
  "read-only-server": (f) => serverState(f, `the server on ${f.where} accepts only reads (a standby, or read-only by default).`),
  "insufficient-resources": (f) => serverState(f, `the server on ${f.where} ran out of a resource (disk, memory or a limit).`),
  "session-terminated": (f) => ({
    what: `the server ended the reset's own session during step "${f.step}".`,
    why: `its lock lived on that session, so the reset stopped rather than go on without it.`,
    fix: fixFor("session-terminated", f.where, f.user, f.subject, f.code)
  }),
  "maintenance-database-missing": (f) => ({
    what: `the maintenance database \`${f.subject}\` does not exist on ${f.where}.`,
    why: `CREATE and DROP DATABASE must be issued from another database than the one being reset.`,
    fix: `create it (\`createdb -h ${f.where.slice(0, f.where.lastIndexOf(":"))} -U postgres ${f.subject}\`), as every ` +
      `standard PostgreSQL installation has one.`
  }),
  "missing-createdb": (f) => ({
    what: `role \`${f.user}\` may not create databases (no CREATEDB).`,
    why: `the reset drops and recreates \`${f.database}\`; it checks the privilege first so it never drops a ` +
      `database it cannot recreate.`,
    fix: `as a superuser: \`ALTER ROLE "${f.user}" CREATEDB;\`, or use a role that has it in ${Variables.dsnVariable}.`
  }),
  "not-owner": (f) => ({
    what: `\`${f.subject}\` is owned by another role, so \`${f.user}\` cannot drop it.`,
    why: `only the owner (or a superuser) may drop a database; nothing was dropped.`,
    fix: `drop it once as its owner (\`DROP DATABASE "${f.subject}"\`), or put its owner's credentials in ` +
      `${Variables.dsnVariable}.`
  }),
  "lock-timeout": (f) => ownLaneHolds(f.sessions) ? {
    what: `the lane this reset runs in holds the reset lock of \`${f.database}\` while its tests run, so a reset ` +
      `from inside its tests (a suite's layer or a test) waits for the lane itself, and timed out.`,
    why: `the lane reset the database before its tests and keeps it from being reset under them; a suite run by ` +
      `the lane needs no reset of its own.`,
    fix: `remove the reset from the suite (\`WorkflowLive.layer\` gives it the lane's database, already reset), or ` +
      `run that suite outside the lane.`
  } : ({
    what: `another reset of \`${f.database}\` on this server holds the reset lock, or another lane is still ` +
      `running its tests on it (application_name "${Variables.applicationName} lane running tests"), and it was ` +
      `not released in time.`,
    why: `two resets at once, or a reset during another lane's tests, would drop the database under them; ` +
      `resets are serialized per database and wait for running lanes.`,
    fix: `wait for the other run to finish (the holder is listed above), or end it: ` +
      `\`SELECT pg_terminate_backend(<pid>);\`. Raise ${Variables.lockTimeoutVariable} (e.g. "5 minutes") if resets ` +
      `here are slow.`
  }),
  "database-in-use": (f) => ({
    what: `\`${f.subject}\` is in use and could not be ${
      f.step === "drop" ? "dropped" : f.step === "swap" ? "swapped for its spare" : "copied"
    }.`,
    why: f.step === "drop"
      ? `DROP DATABASE ... WITH (FORCE) cannot end some sessions (prepared transactions, replication slots, or ` +
        `sessions the role may not terminate).`
      : f.step === "swap"
      ? `PostgreSQL renames a database only while nobody is connected to it (or to the spare); the reset ended ` +
        `the sessions it could and retried for 3 s, but a session stayed (one it may not end, a prepared ` +
        `transaction, or a client reconnecting at once).`
      : `PostgreSQL copies a database only while nobody else is connected to it.`,
    fix: `close the sessions listed above (\`SELECT pg_terminate_backend(<pid>);\`), roll back prepared ` +
      `transactions (\`SELECT gid FROM pg_prepared_xacts\`), then ${rerun}.`
  }),
  "migration-failed": (f) => ({
    what: `migration ${f.file} failed.`,
    why: `the schema could not be built. ` + (f.found === ""
      ? `Nothing was half-applied: after the Migrator's transaction was rolled back, \`${f.database}\` holds ` +
        `nothing of the batch. `
      : `The Migrator's transaction was rolled back; what \`${f.database}\` holds now could not be checked. `) +
      `No template was kept for this set of migrations.`,
    fix: `correct ${f.subject} and ${rerun}.`
  }),
  "migration-half-applied": (f) => ({
    what: `migration ${f.file} failed, and part of the batch stayed: \`${f.database}\` now holds ${f.found ?? "objects"}.`,
    why: `a migration committed on its own (a COMMIT, or a statement that cannot run in a transaction), so the ` +
      `Migrator's rollback could not undo it. No template was kept; the next reset drops \`${f.database}\` (it is ` +
      `marked as the harness's) and builds it from scratch.`,
    fix: `remove the COMMIT (or the statement that commits) from ${f.subject}, correct the failing statement, and ${rerun}.`
  }),
  "unmarked-database-not-empty": (f) => ({
    what: `\`${f.database}\` exists, was not created by the harness (no marker comment), and is not empty: it ` +
      `holds ${f.found ?? "objects the reset could not list"}.`,
    why: `a database someone made by hand is never dropped unconfirmed; only an unmarked database with nothing ` +
      `in it at all is adopted.`,
    fix: `if everything in it may go, confirm by typing its name: \`export ${Variables.confirmDropVariable}=${f.database}\` ` +
      `(any other value, \`yes\` or \`1\` included, confirms nothing), then ${rerun}. Otherwise point ` +
      `${Variables.dsnVariable} at another server.`
  }),
  "identity-mismatch": (f) => /\(oid |after the swap/.test(f.subject) ? {
    what: `after the swap, \`${f.database}\` is not the spare the reset renamed into place: ${f.subject}.`,
    why: `the swap's own transaction read back what the name resolves to as it committed; something else renamed, ` +
      `created or re-marked databases outside the reset's lock (or the catalogs were read through a function ` +
      `of someone else's). Nothing was written into it.`,
    fix: `find what changes databases on this server without the lane's lock (another tool, a person), stop it, ` +
      `and run \`workflow-live reset\` again.`
  } : ({
    what: `a fresh connection to \`${f.database}\` reports current_database() = \`${f.subject}\`.`,
    why: `the suites write through that connection; one that lands elsewhere (a pooler or proxy remapping ` +
      `names) could write into someone else's data.`,
    fix: `point ${Variables.dsnVariable} straight at the PostgreSQL server, not through a pooler.`
  }),
  "database-vanished": (f) => ({
    what: `\`${f.subject}\` disappeared during the reset.`,
    why: `another process dropped it while this reset held its lock: something resets it without the lock.`,
    fix: `find who drops it (server log with log_statement = 'ddl'), stop it, and ${rerun}.`
  }),
  "name-too-long": (f) => ({
    what: `the name \`${f.subject}\` the reset would give one of its databases (template, spare or retired) is ` +
      `longer than PostgreSQL's 63 bytes.`,
    why: `PostgreSQL would silently truncate it, and the reset could then confuse two of its databases.`,
    fix: `use a workflow database name of at most ${63 - "__spare_".length - 12} bytes.`
  }),
  "forbidden-drop": (f) => ({
    what: `refusing to drop or rename \`${f.subject}\`.`,
    why: `the reset may only drop or rename \`${f.database}\` and its own marked \`${f.database}__tpl_<hash>\` ` +
      `templates, \`__spare_<hash>\` spares and \`__old_<ms>\` retired databases; this is a bug in the harness, ` +
      `and nothing was dropped.`,
    fix: `report it with this message.`
  }),
  "template-not-ours": (f) => ({
    what: `\`${f.subject}\` exists but has no harness template marker, so the reset will not drop or replace it.`,
    why: `the reset builds its template for these migrations under that name and only ever drops a template it ` +
      `marked; an unmarked one may be somebody's copy (or a template a killed reset left before marking it). ` +
      `Nothing was dropped.`,
    fix: `if it is yours, rename it: \`ALTER DATABASE "${f.subject}" RENAME TO "<another name>";\`. If it may go, ` +
      `confirm by typing its name: \`export ${Variables.confirmDropVariable}=${f.subject}\` (any other value ` +
      `confirms nothing), or drop it yourself.`
  }),
  "protection-lost": (f) => ({
    what: `the session holding the lane's lock on \`${f.database}\` is gone: ${f.found ?? "it closed"}.`,
    why: `while the tests run, that lock keeps every other reset of \`${f.database}\` waiting; without it a second ` +
      `lane could drop the database under the running tests, so this lane stops instead of going on unprotected.`,
    fix: `find what ends sessions on this server (pg_terminate_backend by a person or a script, a restart, a ` +
      `pooler or proxy between the lane and the server, a network drop), stop it, and run the lane again. Point ` +
      `${Variables.dsnVariable} straight at PostgreSQL, not at a transaction-mode pooler.`
  }),
  "server-error": (f) => ({
    what: `the server rejected a statement.`,
    why: `the reset cannot go on without it.`,
    fix: fixFor("other", f.where, f.user, f.subject, f.code)
  })
}

/** The message of a failed reset. */
export const resetMessage = (f: MessageFields): string => {
  const { fix, what, why } = explanations[f.reason](f)
  const head = f.reason === "protection-lost"
    ? `The lane's protection of \`${f.database}\` on ${f.where} was lost (${f.reason}): ${what}`
    : `Reset of \`${f.database}\` on ${f.where} failed at step "${f.step}" (${f.reason}): ${what}`
  return [
    head,
    ...(f.detail === "" ? [] : [`  Server: ${f.detail}`]),
    ...f.sessions.map((s) => `  Session: ${describeSession(s)}`),
    `  Why:    ${why}`,
    `  Fix:    ${fix}`
  ].join("\n")
}
