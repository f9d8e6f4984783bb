import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { inspect } from "node:util"
import * as WorkflowLiveConfig from "../../src/WorkflowLiveConfig.js"

const read = (env: Record<string, string>): WorkflowLiveConfig.WorkflowLiveConfig =>
  Effect.runSync(
    WorkflowLiveConfig.make.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )

const dsn = "postgres://u:CfgSecret1@h:5432/tenderbot_workflow_test"

describe("WorkflowLiveConfig", () => {
  it("reads the DSN from TENDERBOT_WORKFLOW_DB_DSN only, as a Redacted value", () => {
    const config = read({ TENDERBOT_WORKFLOW_DB_DSN: dsn })
    expect(Option.map(config.dsn, Redacted.value)).toEqual(Option.some(dsn))
    for (const text of [String(config.dsn), JSON.stringify(config), inspect(config, { depth: 10 })]) {
      expect(text).not.toContain("CfgSecret1")
    }
  })

  it("never borrows TENDERBOT_DB_DSN: it only notes that it is set", () => {
    const config = read({ TENDERBOT_DB_DSN: dsn })
    expect(Option.isNone(config.dsn)).toBe(true)
    expect(config.developmentDsnSet).toBe(true)
    expect(read({}).developmentDsnSet).toBe(false)
    expect(read({ TENDERBOT_DB_DSN: "  " }).developmentDsnSet).toBe(false)
  })

  it.each(["", " ", "\t\n"])("treats a blank DSN (%j) as unset", (value) => {
    expect(Option.isNone(read({ TENDERBOT_WORKFLOW_DB_DSN: value }).dsn)).toBe(true)
  })

  it("reads the driver's fallbacks: PGUSER over USER, blank values ignored", () => {
    const config = read({ PGHOST: "db.internal", PGPORT: "6000", PGUSER: "ci", USER: "me", PGDATABASE: "x" })
    expect(config.driverDefaults).toEqual({
      host: Option.some("db.internal"),
      port: Option.some("6000"),
      user: Option.some("ci"),
      database: Option.some("x")
    })
    expect(read({ USER: "me", PGUSER: "" }).driverDefaults.user).toEqual(Option.some("me"))
    expect(read({ PGHOST: " ", PGDATABASE: "" }).driverDefaults).toEqual({
      host: Option.none(),
      port: Option.none(),
      user: Option.none(),
      database: Option.none()
    })
  })

  it("layer(options) builds the same contract from plain values", () => {
    const config = Effect.runSync(
      WorkflowLiveConfig.WorkflowLiveConfig.pipe(
        Effect.provide(WorkflowLiveConfig.layer({ dsn, developmentDsnSet: true, driverDefaults: { user: "ci" } }))
      )
    )
    expect(Option.map(config.dsn, Redacted.value)).toEqual(Option.some(dsn))
    expect(config.developmentDsnSet).toBe(true)
    expect(config.driverDefaults.user).toEqual(Option.some("ci"))
    const blank = Effect.runSync(
      WorkflowLiveConfig.WorkflowLiveConfig.pipe(Effect.provide(WorkflowLiveConfig.layer({ dsn: "  " })))
    )
    expect(Option.isNone(blank.dsn)).toBe(true)
  })
})
