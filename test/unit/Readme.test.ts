// docs/troubleshooting.md (linked from the README) must name every reason the harness can fail with.
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import * as Help from "../../src/cli/help.js"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as CostLedger from "../../src/CostLedger.js"
import * as DbAssert from "../../src/DbAssert.js"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as Fixtures from "../../src/Fixtures.js"
import * as HttpRecorder from "../../src/HttpRecorder.js"
import * as EmbeddedPostgres from "../../src/internal/embeddedPostgres.js"
import * as Lane from "../../src/Lane.js"
import * as LaneInput from "../../src/LaneInput.js"
import * as LeakCheck from "../../src/LeakCheck.js"
import * as VitestArgs from "../../src/vitest/args.js"
import * as VitestStart from "../../src/vitest/start.js"
import * as LaneDatabase from "../../src/LaneDatabase.js"
import * as Migrations from "../../src/Migrations.js"
import * as Preflight from "../../src/Preflight.js"
import * as Prune from "../../src/Prune.js"

const troubleshooting = readFileSync(new URL("../../docs/troubleshooting.md", import.meta.url), "utf8")

const catalogue: Record<string, ReadonlyArray<string>> = {
  DsnGuardError: DsnGuard.reasons,
  PreflightError: Preflight.reasons,
  DatabaseResetError: DatabaseReset.reasons,
  PruneError: Prune.reasons,
  MigrationsError: Migrations.reasons,
  FixturesError: Fixtures.reasons,
  DbAssertError: DbAssert.reasons,
  LaneDatabaseError: LaneDatabase.reasons,
  RunIdError: ["invalid-run-id"],
  StandInsError: ["listen-failed"],
  LaneError: Lane.phaseNames,
  LaneInputError: LaneInput.reasons,
  LeakCheckError: LeakCheck.reasons,
  VitestArgsError: VitestArgs.reasons,
  VitestStartError: VitestStart.reasons,
  EmbeddedPostgresError: EmbeddedPostgres.steps,
  HttpRecorderError: HttpRecorder.reasons,
  CostLedgerError: CostLedger.reasons,
  BudgetExceeded: CostLedger.budgetReasons
}

describe("docs/troubleshooting.md", () => {
  it("has a section", () => {
    expect(troubleshooting.length).toBeGreaterThan(1000)
  })
  for (const [error, reasons] of Object.entries(catalogue)) {
    it(`names every ${error} reason, with its fix`, () => {
      expect(reasons.length).toBeGreaterThan(0)
      expect(troubleshooting).toContain(error)
      for (const reason of reasons) {
        // a table row that starts with the reason in backticks
        expect(troubleshooting, `${error}: ${reason}`).toMatch(new RegExp(`\\| \`${reason.replace(/[-]/g, "\\-")}\` \\|`))
      }
    })
  }
})

describe("the variables the lane reads", () => {
  // every WORKFLOW_LIVE_* / TENDERBOT_* name in the sources, except the lane's own hand-offs to itself and
  // the development DSN, which is named only to say it is never read
  const internal = new Set(["WORKFLOW_LIVE_LANE", "WORKFLOW_LIVE_RESET_DEFERRED", "TENDERBOT_DB_DSN"])
  const sources = (dir: string): Array<string> =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [readFileSync(join(dir, e.name), "utf8")] : []
    )
  const read = [
    ...new Set(sources(fileURLToPath(new URL("../../src", import.meta.url))).flatMap((text) =>
      [...text.matchAll(/\b(?:WORKFLOW_LIVE|TENDERBOT)_[A-Z_]+\b/g)].map((m) => m[0])
    ))
  ].filter((name) => !internal.has(name)).sort()
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")

  it("are found", () => {
    expect(read).toContain("WORKFLOW_LIVE_KEEP")
    expect(read).toContain("TENDERBOT_WORKFLOW_DB_DSN")
  })

  it.each(read)("%s is in `--help`'s ENVIRONMENT and in the README", (name) => {
    expect(Help.environment.flatMap(([names]) => names.split(", "))).toContain(name)
    expect(readme).toContain(`\`${name}\``)
  })
})
