/** The host, port, user, password and database of a DSN, resolved exactly as the driver (`pg`) resolves them. */
import { Option } from "effect"
import { parse } from "pg-connection-string"
import { withoutTlsMode } from "./dsnParameters.js"

/** The driver's `PG*` fallbacks for parts a DSN leaves out. */
export interface DriverDefaults {
  readonly host: Option.Option<string>
  readonly port: Option.Option<string>
  readonly user: Option.Option<string>
  readonly database: Option.Option<string>
}

/** The parts of a DSN as the driver resolves them. */
export interface Resolved {
  readonly database: string | null
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string | undefined
  readonly ssl: boolean | object | undefined
}

/** A port that is not 1..65535, and where it came from (the DSN or PGPORT). */
export class PortError {
  constructor(readonly source: string) {}
}

/** Throws `PortError`, `URIError` or the parser's own error for a DSN the driver would misread. */
export const parseParts = (raw: string, defaults: DriverDefaults): Resolved => {
  // sslmode is the guard's to interpret (see dsnParameters): the parser would print a warning for it
  const parsed = parse(withoutTlsMode(raw))
  // the driver's own order (pg ConnectionParameters): the DSN's value if non-empty, then PG*, then a default
  const pick = (value: string | null | undefined, fallback: Option.Option<string>, last: string): string =>
    value !== null && value !== undefined && value !== "" ? value : Option.getOrElse(fallback, () => last)
  const portText = pick(parsed.port, defaults.port, "5432")
  const port = Number(portText)
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) {
    throw new PortError(parsed.port ? "the port in the DSN" : "PGPORT")
  }
  return {
    database: parsed.database ?? null,
    host: pick(parsed.host, defaults.host, "localhost"),
    port,
    user: pick(parsed.user, defaults.user, ""),
    password: parsed.password ? parsed.password : undefined,
    ssl: parsed.ssl as boolean | object | undefined
  }
}

/** Why the parser refused a DSN, in words. */
export const unparseableDetail = (cause: unknown): string =>
  cause instanceof PortError
    ? `${cause.source} is not a port number between 1 and 65535.`
    : cause instanceof URIError
    ? "it contains a `%` that does not start a valid percent-encoded UTF-8 sequence; write a literal `%` as %25."
    : cause instanceof Error && /ENOENT|EACCES|EISDIR/.test(cause.message)
    ? `a file it names (sslcert, sslkey or sslrootcert) cannot be read: ${cause.message}.`
    : cause instanceof Error && /invalid url/i.test(cause.message)
    ? "the URL is malformed: a bad host or port, or a password with a special character that is not " +
      "percent-encoded."
    : `pg-connection-string rejected it: ${cause instanceof Error ? cause.message : String(cause)}.`

