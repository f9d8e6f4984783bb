/**
 * Environment variables that hold credentials by their name. A leaf module (no imports): the workers'
 * prebuilt HTTP recorder loads it.
 */

/**
 * A variable whose name says it holds a credential (`ACME_API_KEY`, `GITHUB_TOKEN`, `PGPASSWORD`, ...): its
 * value is a secret, though no preflight spec lists it.
 */
export const credentialVariable: RegExp =
  // `PWD` only after a prefix (`DB_PWD`): alone it is the shell's working directory
  /(?:^|_)(?:(?:API|SECRET|PRIVATE|ACCESS|SIGNING|CLIENT|MASTER)?_?KEY|(?:API|ACCESS|AUTH|BEARER|REFRESH|SESSION)?_?TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PASS|CREDENTIALS?|AUTH)(?:_|$)|_PWD(?:_|$)|^PGPASSWORD$/i

// a credential-named variable's value is replaced wherever it appears: too short a value (`1`, `true`)
// would turn unrelated text into a mask
const minimumNamedLength = 6

/** The values of credential-named variables in `env` (long enough to be told from ordinary text), sorted by name. */
export const namedCredentials = (env: NodeJS.ProcessEnv): ReadonlyArray<{ readonly variable: string; readonly value: string }> =>
  Object.keys(env).sort().flatMap((variable) => {
    const value = env[variable]?.trim() ?? ""
    return credentialVariable.test(variable) && value.length >= minimumNamedLength ? [{ variable, value }] : []
  })
