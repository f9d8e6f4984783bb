import { Option } from "effect"
import { describe, expect, it } from "vitest"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as Migrations from "../../src/Migrations.js"

const m = (id: number, name: string, sql: string): Migrations.Migration => ({
  id,
  name,
  file: `${String(id).padStart(4, "0")}_${name}.sql`,
  sql
})
const set = [m(1, "customers", "CREATE TABLE customers (id int);"), m(2, "profiles", "CREATE TABLE p (id int);")]

describe("Migrations", () => {
  it("parses NNNN_name.sql and nothing else", () => {
    expect(Migrations.parseFileName("0002_alert_profiles.sql")).toEqual(Option.some({ id: 2, name: "alert_profiles" }))
    expect(Migrations.parseFileName("12_x.sql")).toEqual(Option.some({ id: 12, name: "x" }))
    for (const bad of ["0002-alert.sql", "alert.sql", "0002_alert.SQL.bak", "0002_.sql", "0002_a.b.sql"]) {
      expect(Migrations.parseFileName(bad), bad).toEqual(Option.none())
    }
  })

  it("hashes names, contents, order and the harness version", () => {
    const base = Migrations.hash(set, "0.1.0")
    expect(base).toMatch(/^[0-9a-f]{12}$/)
    expect(Migrations.hash(set, "0.1.0")).toBe(base)
    expect(Migrations.hash(set, "0.1.1")).not.toBe(base)
    expect(Migrations.hash([set[0]!, { ...set[1]!, sql: "CREATE TABLE p (id bigint);" }], "0.1.0")).not.toBe(base)
    expect(Migrations.hash([set[0]!, { ...set[1]!, file: "0002_other.sql" }], "0.1.0")).not.toBe(base)
    expect(Migrations.hash([set[1]!, set[0]!], "0.1.0")).not.toBe(base)
    expect(Migrations.hash([set[0]!], "0.1.0")).not.toBe(base)
  })

  it("names templates after the database and the hash", () => {
    expect(Migrations.templateName("tenderbot_workflow_test", "0123456789ab")).toBe(
      "tenderbot_workflow_test__tpl_0123456789ab"
    )
    expect(Migrations.templateName("db", "abc").startsWith(Migrations.templatePrefix("db"))).toBe(true)
  })

  it("every MigrationsError reason says what and how to fix it", () => {
    for (const reason of Migrations.reasons) {
      const error = new Migrations.MigrationsError({ reason, directory: "/m", file: "0002_x.sql", detail: "boom" })
      expect(error.message, reason).toMatch(/Fix:/)
      expect(error.message.split("\n").length, reason).toBeGreaterThanOrEqual(3)
    }
  })

  it("every DatabaseResetError reason has its own message with why and fix", () => {
    const seen = new Set<string>()
    for (const reason of DatabaseReset.reasons) {
      const error = new DatabaseReset.DatabaseResetError({
        reason,
        database: "tenderbot_workflow_test",
        subject: "tenderbot_workflow_test",
        step: "drop",
        where: "127.0.0.1:5432",
        user: "postgres",
        detail: "",
        sessions: [],
        file: "0002_x.sql"
      })
      expect(error.message, reason).toContain(`(${reason})`)
      expect(error.message, reason).toMatch(/Why: /)
      expect(error.message, reason).toMatch(/Fix: /)
      seen.add(error.message.split("\n")[0]!)
    }
    expect(seen.size).toBe(DatabaseReset.reasons.length)
  })
})
