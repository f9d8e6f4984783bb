import { describe, expect, it } from "vitest"
import { Effect } from "effect"
import * as Spare from "../../src/internal/resetSpare.js"
import * as Steps from "../../src/internal/resetSteps.js"

const db = "tenderbot_workflow_test"
const hash = "0123456789ab"
const row = (name: string, comment: string | null, owned = true): Spare.Row => ({ name, oid: "1", comment, owned })

describe("the spare's names", () => {
  it("the agreed names: __spare_<hash> and __old_<13-digit ms>", () => {
    expect(Spare.spareName(db, hash)).toBe(`${db}__spare_${hash}`)
    expect(Spare.retiredName(db, 1_795_666_703_764)).toBe(`${db}__old_1795666703764`)
    expect(Spare.spareMarker(hash)).toMatch(/^workflow-live: spare/)
    expect(Spare.retiredMarker(new Date(0))).toMatch(/^workflow-live: retired .*1970-01-01T00:00:00\.000Z/)
  })

  it("the longest name is the spare's: a 43-byte database fits 63 bytes, a 44-byte one does not", () => {
    expect(Buffer.byteLength(Spare.longestName("a".repeat(43), hash))).toBe(63)
    expect(Buffer.byteLength(Spare.longestName("a".repeat(44), hash))).toBe(64)
    expect(Spare.longestName(db, hash)).toBe(Spare.spareName(db, hash))
  })

  it("a retired name already taken moves on a millisecond", () => {
    const taken = [Spare.retiredName(db, 5), Spare.retiredName(db, 6)]
    expect(Spare.freeRetiredName(db, taken, 5)).toBe(Spare.retiredName(db, 7))
  })

  it("only the exact patterns are the reset's own", () => {
    expect(Spare.ownPattern(db, `${db}__spare_${hash}`)).toBe(true)
    expect(Spare.ownPattern(db, `${db}__old_0000000000001`)).toBe(true)
    for (const name of [`${db}__spare_x`, `${db}__spare_${hash}0`, `${db}__old_123`, `${db}x__spare_${hash}`, db, `${db}__tpl_${hash}`]) {
      expect(Spare.ownPattern(db, name), name).toBe(false)
    }
  })
})

describe("classify", () => {
  it("sorts marked spares and retired databases; unmarked or foreign lookalikes are untouchable", () => {
    const rows = [
      row(db, "workflow-live: managed"),
      row(`${db}__tpl_${hash}`, "workflow-live: template"),
      row(Spare.spareName(db, hash), Spare.spareMarker(hash)),
      row(Spare.spareName(db, "fedcba987654"), Spare.spareMarker("fedcba987654")),
      row(`${db}__old_0000000000001`, "workflow-live: retired by a reset"),
      row(`${db}__old_0000000000002`, null),
      row(`${db}__spare_x`, Spare.spareMarker(hash)),
      row(`${db}__old_0000000000003`, "workflow-live: retired", false)
    ]
    const spares = Spare.classify(rows, db, hash)
    expect(spares.usable?.name).toBe(Spare.spareName(db, hash))
    expect(spares.stale.map((r) => r.name)).toEqual([Spare.spareName(db, "fedcba987654")])
    expect(spares.retired.map((r) => r.name)).toEqual([`${db}__old_0000000000001`])
    // a marked spare under a name not of the reset's pattern is neither used nor untouchable: prune's stale
    expect(spares.untouchable.map((r) => r.name)).toEqual([`${db}__old_0000000000002`, `${db}__old_0000000000003`])
    expect([spares.usable, ...spares.stale, ...spares.retired].map((r) => r?.name)).not.toContain(`${db}__spare_x`)
    expect(Spare.describeUntouchable(spares)).toMatch(/__old_0000000000002` looks like the harness's but has no workflow-live marker/)
    expect(Spare.describeUntouchable(spares)).toMatch(/__old_0000000000003` looks like the harness's but belongs to another role/)
  })

  it("an unmarked spare of the current hash is never usable", () => {
    const spares = Spare.classify([row(Spare.spareName(db, hash), null)], db, hash)
    expect(spares.usable).toBeUndefined()
    expect(spares.untouchable.length).toBe(1)
  })
})

describe("the swap statement", () => {
  it("renames away and marks retired, then renames the spare in and marks it, quoting names and comments, and reads back what the name resolves to", () => {
    const text = Spare.swapSql({ database: "we\"ird", spare: "s", retired: "r", marker: "it's ours", at: new Date(0) })
    expect(text.split(";\n")).toEqual([
      `ALTER DATABASE "we""ird" RENAME TO "r"`,
      `COMMENT ON DATABASE "r" IS 'workflow-live: retired by a reset at 1970-01-01T00:00:00.000Z; the reset''s deferred work drops it'`,
      `ALTER DATABASE "s" RENAME TO "we""ird"`,
      `COMMENT ON DATABASE "we""ird" IS 'it''s ours'`,
      Spare.identitySql("we\"ird")
    ])
    expect(Spare.identitySql("we\"ird")).toContain(`WHERE datname = 'we"ird'`)
  })

  it("with no workflow database, only renames the spare in", () => {
    expect(Spare.swapSql({ database: "d", spare: "s", retired: undefined, marker: "m", at: new Date(0) }).split(";\n")).toEqual([
      `ALTER DATABASE "s" RENAME TO "d"`,
      `COMMENT ON DATABASE "d" IS 'm'`,
      Spare.identitySql("d")
    ])
  })
})

describe("the swap's identity check (what its own transaction read back)", () => {
  const ctx = { database: db } as Steps.Context
  const check = (identity: Spare.Identity | undefined) => Effect.runSync(Effect.either(Steps.checkSwapped(identity, ctx, "42")))

  it("passes only for the workflow database's name on the spare's oid, marked as the workflow database", () => {
    expect(check({ name: db, oid: "42", comment: Steps.marker })._tag).toBe("Right")
  })

  it("fails with identity-mismatch for another oid, a missing marker, or no row", () => {
    for (const identity of [
      { name: db, oid: "43", comment: Steps.marker },
      { name: db, oid: "42", comment: null },
      { name: db, oid: "42", comment: Spare.spareMarker(hash) },
      undefined
    ]) {
      const outcome = check(identity)
      expect(outcome._tag).toBe("Left")
      if (outcome._tag === "Left") {
        expect(outcome.left.reason).toBe("identity-mismatch")
        expect(outcome.left.subject).toContain(
          identity === undefined ? "no database by that name" : identity.oid === "43" ? "not the swapped-in spare's 42" : "not marked as the workflow database"
        )
      }
    }
  })
})
