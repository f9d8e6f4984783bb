/** Turns the driver's connection failures (all `PgClient: Failed to connect`) into what actually happened. */

/** The problems that name a cause (everything but `other`). */
export const namedProblems = [
  "connection-refused",
  "timeout",
  "unknown-host",
  "authentication-failed",
  "database-missing",
  "insufficient-privilege",
  "tls",
  "server-unavailable",
  "too-many-connections",
  "read-only-server",
  "insufficient-resources",
  "session-terminated"
] as const

/** Every connection problem the classifier tells apart. */
export const problems = [...namedProblems, "other"] as const

/** What went wrong when connecting or running a statement. */
export type ConnectionProblem = typeof problems[number]

/** A classified failure: the problem, the SQLSTATE or errno seen, and the driver's own words. */
export interface Classified {
  readonly problem: ConnectionProblem
  readonly code: string | undefined
  readonly detail: string
}

const codeOf = (u: unknown): string | undefined => {
  if (typeof u === "object" && u !== null && "code" in u && typeof (u as { code: unknown }).code === "string") {
    return (u as { code: string }).code
  }
  return undefined
}

const messageOf = (u: unknown): string =>
  u instanceof Error ? u.message : typeof u === "object" && u !== null && "message" in u ? String(u.message) : String(u)

// SQLSTATEs and errnos with a known cause; the rest of class 53 (resources) is matched by prefix below
const byCode: Readonly<Record<string, ConnectionProblem>> = {
  ECONNREFUSED: "connection-refused",
  ECONNRESET: "connection-refused",
  EHOSTUNREACH: "connection-refused",
  ENETUNREACH: "connection-refused",
  ENOTFOUND: "unknown-host",
  EAI_AGAIN: "unknown-host",
  ETIMEDOUT: "timeout",
  "28P01": "authentication-failed",
  "28000": "authentication-failed",
  "3D000": "database-missing",
  "42501": "insufficient-privilege",
  // the database system is starting up / shutting down / in recovery / not accepting connections
  "57P03": "server-unavailable",
  "53300": "too-many-connections",
  // cannot execute ... in a read-only transaction: a standby, or default_transaction_read_only
  "25006": "read-only-server",
  // admin shutdown (pg_terminate_backend, a fast shutdown), crash shutdown, idle-session timeout,
  // idle-in-transaction timeout
  "57P01": "session-terminated",
  "57P02": "session-terminated",
  "57P05": "session-terminated",
  "25P03": "session-terminated"
}

/** Walks `.cause` chains (SqlError wraps the driver's error) and classifies the innermost known error. */
export const classify = (error: unknown): Classified => {
  const chain: Array<unknown> = []
  let current: unknown = error
  for (let i = 0; i < 8 && current !== undefined && current !== null; i++) {
    chain.push(current)
    current = typeof current === "object" && "cause" in current ? (current as { cause: unknown }).cause : undefined
  }
  // AggregateError (IPv4 + IPv6 attempts) keeps its members in `.errors`
  for (const item of [...chain]) {
    if (item instanceof AggregateError) chain.push(...item.errors)
  }
  for (const item of chain.slice().reverse()) {
    const code = codeOf(item)
    const detail = messageOf(item)
    if (code === undefined) continue
    const known = byCode[code]
    if (known !== undefined) return { problem: known, code, detail }
    if (/^53\d\d\d$/.test(code)) return { problem: "insufficient-resources", code, detail }
    if (/^(ERR_TLS|ERR_SSL|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_VERIFY|CERT_)/.test(code)) {
      return { problem: "tls", code, detail }
    }
  }
  const text = chain.map(messageOf).join(" | ")
  // the server answered with an error of its own (`invalid value for parameter "statement_timeout"`,
  // `canceling statement due to statement timeout`): not a network problem, whatever its words say
  const sqlstate = [...chain].reverse().map(codeOf).find((c) => c !== undefined && /^[0-9A-Z]{5}$/.test(c))
  if (sqlstate !== undefined) return { problem: "other", code: sqlstate, detail: text }
  if (/timed? ?out|timeout/i.test(text)) return { problem: "timeout", code: undefined, detail: text }
  if (/does not support SSL|SSL/i.test(text)) return { problem: "tls", code: undefined, detail: text }
  if (/terminated unexpectedly|not queryable/i.test(text)) {
    // while connecting: the peer hung up mid-handshake; afterwards: the session is gone
    return { problem: /Failed to connect/.test(text) ? "timeout" : "session-terminated", code: undefined, detail: text }
  }
  return { problem: "other", code: [...chain].reverse().map(codeOf).find((c) => c !== undefined), detail: text }
}

/** One line per problem: what to check. `where` is `host:port`; `code` the SQLSTATE, when one was seen. */
export const fixFor = (
  problem: ConnectionProblem,
  where: string,
  user: string,
  database: string,
  code?: string | undefined
): string => {
  switch (problem) {
    case "connection-refused":
      return `nothing accepts connections on ${where}: start PostgreSQL (for example ` +
        "`pg_ctlcluster --skip-systemctl-redirect 15 main start`) or correct the host and port in the DSN."
    case "timeout":
      return `${where} did not answer in time: check that the host is reachable (firewall, VPN) and that ` +
        "it is a PostgreSQL server."
    case "unknown-host":
      return `the host in ${where} does not resolve: correct the host name in the DSN.`
    case "authentication-failed":
      return `the server refused user \`${user}\`: check the user and password in the DSN (or PGPASSWORD, ` +
        "~/.pgpass) and pg_hba.conf."
    case "database-missing":
      return `database \`${database}\` does not exist on ${where}: run \`workflow-live reset\` to create it.`
    case "insufficient-privilege":
      return `user \`${user}\` lacks a privilege the lane needs: \`ALTER ROLE ${user || "<user>"} CREATEDB;\` ` +
        "(as a superuser) or use a role that has it."
    case "tls":
      return "the TLS handshake failed: check sslmode and the certificates in the DSN, or the server's ssl setting."
    case "server-unavailable":
      return `the server on ${where} is starting up, shutting down or in recovery: wait until ` +
        `\`pg_isready -h ${hostOf(where)} -p ${portOf(where)}\` says "accepting connections", then run again; ` +
        "if it stays unavailable, read the server's log."
    case "too-many-connections":
      return `every connection slot on ${where} is taken (max_connections): close idle sessions ` +
        "(`SELECT pid, usename, application_name, state FROM pg_stat_activity`), or raise max_connections " +
        "in postgresql.conf and restart the server."
    case "read-only-server":
      return `${where} only accepts reads (a standby, or default_transaction_read_only = on): point the DSN at ` +
        "the primary server, or `ALTER ROLE ... SET default_transaction_read_only = off`."
    case "insufficient-resources":
      return `the server on ${where} ran out of a resource (SQLSTATE ${code ?? "53xxx"}: disk space, memory or a ` +
        "configured limit): free disk space in its data directory or memory on its host, as its log says, then run again."
    case "session-terminated":
      return "the server ended the session (pg_terminate_backend, a restart, or an idle timeout): find who ends " +
        "sessions on this server (its log, with log_disconnections = on), then run again."
    case "other":
      return code === undefined
        ? "the driver's own words are above; fix the cause they name and run again."
        : `the server answered SQLSTATE ${code} (https://www.postgresql.org/docs/current/errcodes-appendix.html); ` +
          "fix the cause its message names and run again."
  }
}

const hostOf = (where: string): string => where.slice(0, where.lastIndexOf(":"))
const portOf = (where: string): string => where.slice(where.lastIndexOf(":") + 1)
