// DbAssert's comparison: set semantics on the named fields, differing rows paired by likeness, and words
// that name only what was compared.
import { describe, expect, it } from "vitest"
import * as RowDiff from "../../src/internal/rowDiff.js"

const actual = [
  { id: 1, name: "Bridges", keywords: ["bridge"], regions: ["DE21"] },
  { id: 2, name: "Tunnels", keywords: ["tunnel"], regions: ["DE30"] }
]

describe("RowDiff", () => {
  it("matches as a set on the fields each expected row names", () => {
    const c = RowDiff.compare([{ name: "Tunnels" }, { name: "Bridges", keywords: ["bridge"] }], actual)
    expect(RowDiff.passed(c)).toBe(true)
  })

  it("pairs a differing row with the most alike actual row and names the differing fields", () => {
    const c = RowDiff.compare([{ name: "Tunnels" }, { name: "Bridges", keywords: ["tunnel"] }], actual)
    expect(RowDiff.passed(c)).toBe(false)
    expect(RowDiff.headline("alert_profiles", c)).toBe("1 row differs in `alert_profiles`: keywords")
    const text = RowDiff.details(c, RowDiff.shownFields([{ name: "x", keywords: [] }], "name")).join("\n")
    expect(text).toContain("expected row 2 differs from the row (id 1):")
    expect(text).toMatch(/✗ keywords +\["tunnel"\] +\["bridge"\]/)
    expect(text).not.toContain("regions")
    expect(RowDiff.sides(c, ["name"]).actual).toEqual([{ name: "Tunnels" }, { name: "Bridges", keywords: ["bridge"] }])
  })

  it("says what is missing and what is unexpected", () => {
    expect(RowDiff.headline("t", RowDiff.compare([{ name: "A" }, { name: "B" }, { name: "C" }], [{ id: 9, name: "A" }])))
      .toBe("2 expected rows are missing from `t`")
    const extra = RowDiff.compare([], actual)
    expect(RowDiff.headline("t", extra)).toBe("2 unexpected rows in `t`")
    const shown = RowDiff.shownFields([], "name")
    expect(RowDiff.details(extra, shown).join("\n")).toMatch(/unexpected row \(id 2\):\n.*\n *✗ id +- +2\n *✗ name +- +"Tunnels"/)
  })

  it("a misspelt field is a difference, shown as missing on the actual side", () => {
    const c = RowDiff.compare([{ nmae: "Bridges" }], [actual[0]!])
    expect(RowDiff.headline("t", c)).toBe("1 row differs in `t`: nmae")
    expect(RowDiff.details(c, []).join("\n")).toContain("(no such field)")
  })
})
