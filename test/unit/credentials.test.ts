// Which environment variables hold credentials by their name: their values are kept out of the lane's
// output, its reports and its cassettes, so ordinary variables must not be among them.
import { describe, expect, it } from "vitest"
import { namedCredentials } from "../../src/internal/credentials.js"

describe("namedCredentials", () => {
  it("takes credential-named variables with values long enough to tell from ordinary text", () => {
    const found = namedCredentials({
      ACME_API_KEY: "acme-123456",
      GITHUB_TOKEN: "ghp_abcdef",
      DB_PASSWORD: "s3cret-pw",
      DB_PWD: "s3cret-pwd",
      PGPASSWORD: "pgpass99",
      CLIENT_SECRET: "shhh-secret",
      SHORT_TOKEN: "abc",
      // the shell's working directory, and other ordinary names
      PWD: "/work/main",
      OLDPWD: "/work",
      PATH: "/usr/bin:/bin",
      KEYWORDS: "asphalt,road",
      MONKEY: "banana-split",
      ACME_SECRETKEY: "zzSecretKeyValue9",
      ACME_PASSPHRASE: "zzPassPhrase9",
      ACME_APITOKEN: "zzApiToken99",
      ACME_PRIVATEKEY: "zzPrivate99"
    }).map((c) => c.variable)
    expect(found).toEqual([
      "ACME_APITOKEN", "ACME_API_KEY", "ACME_PASSPHRASE", "ACME_PRIVATEKEY", "ACME_SECRETKEY", "CLIENT_SECRET",
      "DB_PASSWORD", "DB_PWD", "GITHUB_TOKEN", "PGPASSWORD"
    ])
  })
})
