import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Schema } from "effect"
import { readFileSync } from "node:fs"
import * as Preflight from "../../src/Preflight.js"

// env-only specs: no database, no HTTP, so no I/O
const envOnly = (env: ReadonlyArray<Preflight.EnvRequirement>): Preflight.Spec => ({ env, http: [], database: undefined })

const check = (spec: Preflight.Spec, values: Record<string, string>) =>
  Preflight.check({ spec, reportDir: false }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(values))))
  )

describe("Preflight (no I/O)", () => {
  it("HttpUrl accepts http(s) URLs only", () => {
    const decode = Schema.decodeEither(Preflight.HttpUrl)
    expect(Either.isRight(decode("https://api.example.com/v1"))).toBe(true)
    expect(Either.isRight(decode("http://127.0.0.1:8080"))).toBe(true)
    for (const bad of ["api.example.com", "ftp://x", " https://x", "localhost:8080/api", ""]) {
      expect(Either.isLeft(decode(bad)), bad).toBe(true)
    }
  })

  it("extend replaces entries by variable or name and merges database needs", () => {
    const spec = Preflight.extend(Preflight.defaultSpec, {
      env: [{ variable: "TENDERBOT_LLM_API_KEY", required: false, secret: true, description: "k", example: "k" }],
      http: [{ name: "search", urlVariable: "SEARCH_URL" }],
      database: { extensions: ["pg_trgm"] }
    })
    expect(spec.env.filter((e) => e.variable === "TENDERBOT_LLM_API_KEY")).toHaveLength(1)
    expect(spec.env.find((e) => e.variable === "TENDERBOT_LLM_API_KEY")?.required).toBe(false)
    expect(spec.http.map((h) => h.name)).toEqual(["llm", "tenders", "search"])
    expect(spec.database).toMatchObject({ minServerVersion: 13, createdb: true, extensions: ["pg_trgm"] })
  })

  it.effect("shows a secret as set with its length, never its value", () =>
    Effect.gen(function*() {
      const report = yield* check(
        envOnly([{ variable: "KEY", required: true, secret: true, description: "a key", example: "<key>" }]),
        { KEY: "abc" }
      )
      expect(report.rows[1]).toMatchObject({ check: "env KEY", status: "pass", found: "set (3 characters, hidden)" })
      expect(Preflight.render(report, { colour: false })).not.toContain("abc")
    }))

  it.effect("masks a password written into a URL variable", () =>
    Effect.gen(function*() {
      const report = yield* check(
        envOnly([{ variable: "API", required: true, secret: false, format: Preflight.HttpUrl, description: "", example: "" }]),
        { API: "https://user:hunter2pw@api.example.com/v1" }
      )
      const text = Preflight.render(report, { colour: true })
      expect(text).toContain("user:*****@api.example.com")
      expect(text).not.toContain("hunter2pw")
    }))

  it.effect("an optional variable may be missing; a required one fails; skip policy skips it", () =>
    Effect.gen(function*() {
      const spec = envOnly([
        { variable: "OPT", required: false, secret: false, description: "", example: "" },
        { variable: "REQ", required: true, secret: false, description: "", example: "x" }
      ])
      const failing = yield* check(spec, {})
      expect(failing.rows.map((r) => [r.check, r.status])).toEqual([
        ["setting WORKFLOW_LIVE_ON_MISSING", "pass"],
        ["env OPT", "pass"],
        ["env REQ", "fail"]
      ])
      expect(failing.verdict).toBe("fail")
      const skipped = yield* check(spec, { WORKFLOW_LIVE_ON_MISSING: "skip" })
      expect(skipped.verdict).toBe("skip")
      expect(skipped.skipReason).toContain("env REQ: not set")
    }))

  it.effect("colours only when asked, and the plain table has no escape codes", () =>
    Effect.gen(function*() {
      const report = yield* check(envOnly([]), {})
      expect(Preflight.render(report, { colour: false })).not.toContain("\u001b[")
      expect(Preflight.render(report, { colour: true })).toContain("\u001b[")
      const before = process.env["NO_COLOR"]
      process.env["NO_COLOR"] = "1"
      expect(Preflight.colourFor({ isTTY: true })).toBe(false)
      delete process.env["NO_COLOR"]
      expect(Preflight.colourFor({ isTTY: true })).toBe(true)
      expect(Preflight.colourFor({ isTTY: false })).toBe(false)
      if (before !== undefined) process.env["NO_COLOR"] = before
    }))

  it("skip covers only missing variables and unreachable external APIs, never a database problem", () => {
    const kinds: ReadonlyArray<Preflight.Kind> = ["setting", "env", "database", "http"]
    const skippable = kinds.flatMap((kind) =>
      Preflight.reasons.filter((reason) => Preflight.isSkippable(kind, reason)).map((reason) => `${kind} ${reason}`))
    expect(skippable.sort()).toEqual([
      "database missing-variable",
      "env missing-variable",
      "http missing-variable",
      "http network-error",
      "http not-listening",
      "http server-error",
      "http timeout",
      "http unknown-host",
      "setting missing-variable"
    ])
    for (const reason of Preflight.reasons) {
      if (reason !== "missing-variable") expect(Preflight.isSkippable("database", reason), reason).toBe(false)
    }
  })

  it("one rule decides the verdict: a failed row fails, a row skipped by policy skips, else pass", () => {
    const row = (status: Preflight.Status, reason?: Preflight.Reason): Preflight.Row => ({
      check: `c ${status} ${reason ?? ""}`,
      kind: "env",
      status,
      reason,
      skippable: false,
      durationMs: 0,
      found: "f",
      fix: undefined
    })
    expect(Preflight.decide([row("pass")], "skip")).toEqual({ verdict: "pass", skipReason: undefined })
    expect(Preflight.decide([row("pass"), row("skipped", "missing-variable")], "skip").verdict).toBe("skip")
    expect(Preflight.decide([row("skipped", "missing-variable"), row("fail", "guard-refused")], "skip").verdict).toBe("fail")
    // rows not checked because another failed never make a skip on their own
    expect(Preflight.decide([row("pass"), row("skipped", "not-checked")], "skip").verdict).toBe("pass")
  })

  it("docs/troubleshooting.md lists every row reason under Preflight", () => {
    const readme = readFileSync("docs/troubleshooting.md", "utf8")
    const section = readme.slice(readme.indexOf("### Preflight (`PreflightError`)"))
    for (const reason of Preflight.reasons) expect(section, reason).toContain(`| \`${reason}\` |`)
  })
})
