/** Turns the driver's connection failures (all `PgClient: Failed to connect`) into what actually happened. */

/** The problems that name a cause (everything but `other`). */
export const namedProblems = [
  "connection-refused",
  "timeout",
  "unknown-host",
  "authentication-failed",
  "database-missing",
  "insufficient-privilege",
  "tls"
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
    switch (code) {
      case "ECONNREFUSED":
      case "ECONNRESET":
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return { problem: "connection-refused", code, detail }
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return { problem: "unknown-host", code, detail }
      case "ETIMEDOUT":
        return { problem: "timeout", code, detail }
      case "28P01":
      case "28000":
        return { problem: "authentication-failed", code, detail }
      case "3D000":
        return { problem: "database-missing", code, detail }
      case "42501":
        return { problem: "insufficient-privilege", code, detail }
    }
    if (code !== undefined && /^(ERR_TLS|ERR_SSL|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_VERIFY|CERT_)/.test(code)) {
      return { problem: "tls", code, detail }
    }
  }
  const text = chain.map(messageOf).join(" | ")
  if (/timed? ?out|timeout/i.test(text)) return { problem: "timeout", code: undefined, detail: text }
  if (/does not support SSL|SSL/i.test(text)) return { problem: "tls", code: undefined, detail: text }
  if (/terminated unexpectedly/i.test(text)) return { problem: "timeout", code: undefined, detail: text }
  return { problem: "other", code: codeOf(chain.at(-1)), detail: text }
}

/** One line per problem: what to check. `where` is `host:port`. */
export const fixFor = (problem: ConnectionProblem, where: string, user: string, database: string): string => {
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
    case "other":
      return "see the driver's error above."
  }
}
