// prune's verdicts from the catalog alone: only marked `<db>__*` databases of the role go, the current
// template and spare stay, lookalikes and the workflow database itself are never candidates.
import { describe, expect, it } from "vitest"
import * as HarnessDatabases from "../../src/internal/harnessDatabases.js"
import * as Prune from "../../src/Prune.js"

const db = "tenderbot_workflow_test"
const current = { hash: "aaaaaaaaaaaa", harnessVersion: "1.2.0" }
const row = (name: string, comment: string | null, owned = true): Prune.Listed => ({ name, comment, owned, owner: owned ? "me" : "dba", bytes: 1024 })

const verdicts = (rows: ReadonlyArray<Prune.Listed>) =>
  Object.fromEntries(Prune.plan(db, current, "me", rows).map((e) => [e.name, `${e.verdict}: ${e.why}`]))

describe("Prune.plan", () => {
  it("keeps the current template and spare, drops the other marked ones, ignores the unmarked", () => {
    expect(verdicts([
      row(db, HarnessDatabases.managedMarker),
      row(`${db}__tpl_aaaaaaaaaaaa`, HarnessDatabases.templateMarker("aaaaaaaaaaaa", "1.2.0")),
      row(`${db}__spare_aaaaaaaaaaaa`, `${HarnessDatabases.spareMarkerPrefix} for aaaaaaaaaaaa`),
      row(`${db}__spare_bbbbbbbbbbbb`, `${HarnessDatabases.spareMarkerPrefix} for bbbbbbbbbbbb`),
      row(`${db}__tpl_bbbbbbbbbbbb`, HarnessDatabases.templateMarker("bbbbbbbbbbbb", "1.2.0")),
      row(`${db}__tpl_cccccccccccc`, HarnessDatabases.templateMarker("cccccccccccc", "1.1.0")),
      row(`${db}__tpl_dddddddddddd`, "workflow-live: template for migrations dddddddddddd; never connect to it"),
      row(`${db}__old_1795691894842`, `${HarnessDatabases.retiredMarkerPrefix} at 1795691894842`),
      // renamed by hand: the marker came along, the name is a person's
      row(`${db}__keep_for_bug_123`, HarnessDatabases.managedMarker),
      row(`${db}__old_20260101`, `${HarnessDatabases.retiredMarkerPrefix} at 20260101`),
      row(`${db}__tpl_eeeeeeeeeeee`, null),
      row(`${db}__tpl_ffffffffffff`, "made by hand"),
      row(`${db}__tpl_999999999999`, HarnessDatabases.templateMarker("999999999999", "1.2.0"), false)
    ])).toEqual({
      [`${db}__tpl_aaaaaaaaaaaa`]: "keep: the template of the current migrations",
      [`${db}__spare_aaaaaaaaaaaa`]: "keep: the spare of the current migrations",
      [`${db}__spare_bbbbbbbbbbbb`]: "drop: spare of other migrations (current aaaaaaaaaaaa)",
      [`${db}__tpl_bbbbbbbbbbbb`]: "drop: template of other migrations (bbbbbbbbbbbb; current aaaaaaaaaaaa)",
      [`${db}__tpl_cccccccccccc`]: "drop: template of harness 1.1.0 (this is 1.2.0)",
      [`${db}__tpl_dddddddddddd`]: "drop: template of other migrations (dddddddddddd; current aaaaaaaaaaaa)",
      [`${db}__old_1795691894842`]: "drop: retired by a reset",
      [`${db}__keep_for_bug_123`]: "ignore: not a name the harness makes (`__tpl_<hash>`, `__spare_<hash>`, `__old_<ms>`): never touched, even with the harness's marker (a database renamed by hand keeps it)",
      [`${db}__old_20260101`]: "ignore: not a name the harness makes (`__tpl_<hash>`, `__spare_<hash>`, `__old_<ms>`): never touched, even with the harness's marker (a database renamed by hand keeps it)",
      [`${db}__tpl_eeeeeeeeeeee`]: `ignore: not marked as the harness's (no "workflow-live:" comment): never touched`,
      [`${db}__tpl_ffffffffffff`]: `ignore: not marked as the harness's (no "workflow-live:" comment): never touched`,
      [`${db}__tpl_999999999999`]: "not-owner: owned by dba, not me: left alone (drop it as dba)"
    })
  })

  it("never considers names outside `<db>__*`, however they are marked", () => {
    expect(Prune.plan(db, current, "me", [
      row(db, HarnessDatabases.managedMarker),
      row(`${db}_tpl_bbbbbbbbbbbb`, HarnessDatabases.templateMarker("bbbbbbbbbbbb", "1.2.0")),
      row(`${db}__`, HarnessDatabases.templateMarker("bbbbbbbbbbbb", "1.2.0")),
      row("tenderbot__tpl_bbbbbbbbbbbb", HarnessDatabases.templateMarker("bbbbbbbbbbbb", "1.2.0"))
    ])).toEqual([])
  })

  it("renders a dry run with sizes and what it would free", () => {
    const entries = Prune.plan(db, current, "me", [row(`${db}__tpl_bbbbbbbbbbbb`, HarnessDatabases.templateMarker("bbbbbbbbbbbb", "1.2.0"))])
    const lines = Prune.render({ database: db, where: "h:5432", dryRun: true, entries, dropped: [], bytes: 7_600_000, millis: 3, busy: [] })
    expect(lines[0]).toMatch(/^ {2}would drop {2}tenderbot_workflow_test__tpl_bbbbbbbbbbbb +1\.0 kB {2}template of other/)
    expect(lines.at(-1)).toBe("would free 7.2 MB (1 database(s)); run `workflow-live prune` to remove them")
  })

  it("a dry run that found the reset's lock held says so, naming who holds it", () => {
    const holder = { pid: 4242, user: "me", applicationName: "workflow-live lane running tests", client: null, state: "idle", backendStart: null }
    const lines = Prune.render({ database: db, where: "h:5432", dryRun: true, entries: [], dropped: [], bytes: 0, millis: 3, busy: [holder] })
    expect(lines).toContain("nothing to prune")
    expect(lines.join("\n")).toMatch(/lock is held \(a reset or a lane is running\), so this list may change/)
    expect(lines.at(-1)).toContain("pid 4242")
    expect(lines.at(-1)).toContain("workflow-live lane running tests")
  })
})
