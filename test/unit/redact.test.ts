import { describe, expect, it } from "@effect/vitest"
import { hasStrayAt, intendedPassword, maskDsn, scrub, secretsOf, showInvisible, truncate } from "../../src/internal/redact.js"

// [dsn, the password as its writer meant it, the masked form]
const cases: ReadonlyArray<readonly [string, string | undefined, string]> = [
  ["postgres://u:Plain123@h:5432/db", "Plain123", "postgres://u:*****@h:5432/db"],
  ["postgres://u:p%40ss%2Fw0rd@h/db", "p%40ss%2Fw0rd", "postgres://u:*****@h/db"],
  ["postgres://u:Sl/ash99@h/db", "Sl/ash99", "postgres://u:*****@h/db"],
  ["postgres://u:Qu?est99@h/db", "Qu?est99", "postgres://u:*****@h/db"],
  ["postgres://u:Ha#sh999@h/db", "Ha#sh999", "postgres://u:*****@h/db"],
  ["postgres://u:A@B:C@D999@h/db", "A@B:C@D999", "postgres://u:*****@h/db"],
  ["postgres://u:pässwörd@h/db", "pässwörd", "postgres://u:*****@h/db"],
  ["postgres://u@h/db?password=Query999&sslmode=require", undefined, "postgres://u@h/db?password=*****&sslmode=require"],
  ["postgres://u@h/db?sslpassword=KeyPass9", undefined, "postgres://u@h/db?sslpassword=*****"],
  ["host=h dbname=db password=KvPass99 user=u", undefined, "host=h dbname=db password=***** user=u"],
  ["host=h password='kv pass 99' dbname=db", undefined, "host=h password=***** dbname=db"],
  ["u:NoScheme9@localhost:5432/db", "NoScheme9", "u:*****@localhost:5432/db"],
  ["mysql://u:MyPass999@h/db", "MyPass999", "mysql://u:*****@h/db"],
  ["postgres://u@h/db#Fragment9", undefined, "postgres://u@h/db#…"],
  ["socket://u:Sock9999@/var/run/postgresql?db=x", "Sock9999", "socket://u:*****@/var/run/postgresql?db=x"],
  ["postgres://u@h/db", undefined, "postgres://u@h/db"],
  // the password written a second time, in a setting: masked there too
  [
    "postgres://u:S3cretPW@h/db?options=-c%20statement_timeout%3DS3cretPW",
    "S3cretPW",
    "postgres://u:*****@h/db?options=-c%20statement_timeout%3D*****"
  ]
]

describe("maskDsn", () => {
  it.each(cases)("%s", (dsn, password, masked) => {
    expect(intendedPassword(dsn)).toBe(password)
    expect(maskDsn(dsn)).toBe(masked)
    for (const secret of secretsOf(dsn)) expect(maskDsn(dsn)).not.toContain(secret)
  })

  it("escapes invisible characters and shortens long input", () => {
    expect(maskDsn("postgres://h/tender\u200Bbot")).toBe("postgres://h/tender\\u{200B}bot")
    const long = maskDsn(`postgres://u:${"x".repeat(10_000)}@h/${"d".repeat(10_000)}`)
    expect(long.length).toBeLessThan(200)
    expect(long).toMatch(/^postgres:\/\/u:\*\*\*\*\*@h\/d+… \(\d+ characters\)$/)
  })
})

describe("secretsOf", () => {
  it("finds the password as written, decoded, and as the driver reads it", () => {
    expect(secretsOf("postgres://u:p%40ss%2Fw0rd@h/db")).toEqual(expect.arrayContaining(["p%40ss%2Fw0rd", "p@ss/w0rd"]))
    expect(secretsOf("postgres://u@h/db?password=Query999")).toContain("Query999")
    expect(secretsOf("host=h password='kv pass 99'")).toContain("kv pass 99")
    // a password the URL parser splits (unencoded `/`) is still found whole
    expect(secretsOf("postgres://u:Sl/ash99@h/db")).toContain("Sl/ash99")
    expect(secretsOf("postgres://u@h/db")).toEqual([])
  })
})

describe("scrub", () => {
  it("replaces every occurrence, longest secret first, and leaves very short secrets alone", () => {
    expect(scrub("a Secret1 b Secret1", ["Secret1"])).toBe("a ***** b *****")
    expect(scrub("xx Secret1Long yy", ["Secret1", "Secret1Long"])).toBe("xx ***** yy")
    expect(scrub("postgres is abc", ["abc"])).toBe("postgres is abc")
  })
})

describe("hasStrayAt", () => {
  it("flags an @ after the authority only", () => {
    expect(hasStrayAt("postgres://u:a/b@h/db")).toBe(true)
    expect(hasStrayAt("postgres://u:a#b@h/db")).toBe(true)
    expect(hasStrayAt("postgres://u:a@b@h/db")).toBe(false)
    expect(hasStrayAt("postgres://u:p@h/db")).toBe(false)
    expect(hasStrayAt("socket:/tmp?db=x")).toBe(false)
  })
})

describe("display helpers", () => {
  it("showInvisible and truncate", () => {
    expect(showInvisible("a\u00ADb\u200Dc\nd")).toBe("a\\u{AD}b\\u{200D}c\\u{A}d")
    expect(truncate("abcdef", 3)).toBe("abc… (6 characters)")
    expect(truncate("abc", 3)).toBe("abc")
  })
})
