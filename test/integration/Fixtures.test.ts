import { SqlClient } from "@effect/sql"
import { afterAll, beforeAll, describe, expect, it, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Scope } from "effect"
import * as DsnGuard from "../../src/DsnGuard.js"
import * as DbAssert from "../../src/DbAssert.js"
import * as Fixtures from "../../src/Fixtures.js"
import * as RunId from "../../src/RunId.js"
import * as WorkflowLive from "../../src/WorkflowLive.js"
import * as LeakingFixtures from "../support/leakingFixtures.js"
import { deletes, recordStatements } from "../support/statementCounter.js"
import * as TestDatabase from "../support/testDatabase.js"

const database = "wl_it_fixtures_1"
const runId = RunId.generate()

beforeAll(() => TestDatabase.runPromise(TestDatabase.create(database)), 60_000)
afterAll(() => TestDatabase.runPromise(TestDatabase.drop(database)), 60_000)

const Suite = WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)), { runId })

const count = (table: Fixtures.Table, ids: ReadonlyArray<number>) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(table)} WHERE id = ANY(${ids.map(String)}::bigint[])`.pipe(
      Effect.map((rows) => Number(rows[0]!.n))
    ))

// What a workflow writes for a customer, outside any fixture: the release must remove it too.
const workflowRows = (profileId: number, tenderId: number, customerId: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [match] = yield* sql<{ id: string }>`INSERT INTO tender_matches (alert_profile_id, tender_id, score, summary)
      VALUES (${profileId}, ${tenderId}, 0.5, 'written by the workflow') RETURNING id`
    const [notification] = yield* sql<{ id: string }>`INSERT INTO notifications (customer_id, tender_match_id, channel,
      subject, body) VALUES (${customerId}, ${match!.id}, 'email', 's', 'b') RETURNING id`
    return { matchId: Number(match!.id), notificationId: Number(notification!.id) }
  })

layer(Suite, { excludeTestServices: true })("Fixtures", (it) => {
  it.scoped("release runs in FK order and deletes the workflow's rows for the customer", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const neighbour = yield* fixtures.customer()
      const neighbourProfile = yield* fixtures.alertProfile(neighbour)
      const ids = yield* Effect.scoped(Effect.gen(function*() {
        const customer = yield* fixtures.customer()
        const profile = yield* fixtures.alertProfile(customer)
        const tender = yield* fixtures.tender()
        const otherTender = yield* fixtures.tender()
        const match = yield* fixtures.match(profile, tender)
        const notification = yield* fixtures.notification(customer, { match })
        const workflow = yield* workflowRows(profile.id, otherTender.id, customer.id)
        yield* DbAssert.exactly("tender_matches", customer, [
          { tenderExternalId: tender.externalId, score: 0.87 },
          { tenderExternalId: otherTender.externalId, summary: "written by the workflow" }
        ])
        yield* DbAssert.exactly("notifications", customer, [
          { tenderExternalId: tender.externalId },
          { tenderExternalId: otherTender.externalId, subject: "s" }
        ])
        return {
          customers: [customer.id],
          alert_profiles: [profile.id],
          tenders: [tender.id, otherTender.id],
          tender_matches: [match.id, workflow.matchId],
          notifications: [notification.id, workflow.notificationId]
        }
      }))
      for (const table of Fixtures.tables) {
        expect(yield* count(table, ids[table]), table).toBe(0)
      }
      expect(yield* count("customers", [neighbour.id])).toBe(1)
      expect(yield* count("alert_profiles", [neighbourProfile.id])).toBe(1)
    }))

  it.effect("cleans up after Effect.fail, a defect, a thrown error and an interruption (timeout)", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const endings: ReadonlyArray<readonly [string, Effect.Effect<never, unknown>]> = [
        ["Effect.fail", Effect.fail("intended")],
        ["defect", Effect.die(new Error("intended defect"))],
        ["thrown", Effect.sync(() => { throw new Error("intended throw") })],
        ["timeout", Effect.never.pipe(Effect.timeoutFail({ duration: "50 millis", onTimeout: () => "timed out" }))],
        ["interrupt", Effect.interrupt]
      ]
      for (const [name, ending] of endings) {
        let created: { customer: number; profile: number } | undefined
        const exit = yield* Effect.scoped(Effect.gen(function*() {
          const customer = yield* fixtures.customer()
          const profile = yield* fixtures.alertProfile(customer)
          created = { customer: customer.id, profile: profile.id }
          expect(yield* count("customers", [customer.id])).toBe(1)
          return yield* ending
        })).pipe(Effect.exit)
        expect(Exit.isFailure(exit), name).toBe(true)
        expect(created, name).toBeDefined()
        expect(yield* count("customers", [created!.customer]), name).toBe(0)
        expect(yield* count("alert_profiles", [created!.profile]), name).toBe(0)
      }
    }))

  it.scoped("DbAssert.exactly names what differs, compared fields only, expected next to actual", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      const profile = yield* fixtures.alertProfile(customer, { name: "Bridges in Upper Bavaria" })
      const rows = yield* DbAssert.exactly("alert_profiles", customer, [{ name: "Bridges in Upper Bavaria" }])
      expect(rows.map((r) => r.id)).toEqual([profile.id])
      const wrongName = yield* Effect.flip(DbAssert.exactly("alert_profiles", customer, [{ name: "Tunnels" }]))
      expect(wrongName.reason).toBe("rows-differ")
      expect(wrongName.message).toContain(`1 row differs in \`alert_profiles\`: name (customer ${customer.id}: expected 1 row, found 1)`)
      expect(wrongName.message).toMatch(/✗ name +"Tunnels" +"Bridges in Upper Bavaria"/)
      expect(wrongName.message).not.toContain("keywords")
      expect(wrongName.actual).toEqual([{ name: "Bridges in Upper Bavaria" }])
      expect(wrongName.rows).toHaveLength(1)
      const tooMany = yield* Effect.flip(DbAssert.exactly("alert_profiles", customer, []))
      expect(tooMany.message).toContain("1 unexpected row in `alert_profiles` (customer")
      expect(tooMany.message).toContain(`unexpected row (id ${profile.id})`)
      const none = yield* Effect.flip(DbAssert.exactly("notifications", customer, [{ channel: "email" }]))
      expect(none.message).toContain("1 expected row is missing from `notifications`")
      // every fixture table, the customer and the matched tenders included
      yield* DbAssert.exactly("customers", customer, [{ externalId: customer.externalId, email: customer.email }])
      const tender = yield* fixtures.tender({ title: "Bridge repair" })
      yield* DbAssert.exactly("tenders", customer, [])
      yield* fixtures.match(profile, tender)
      yield* DbAssert.exactly("tenders", customer, [{ externalId: tender.externalId, title: "Bridge repair" }])
    }))

  it.scoped("bad overrides are a typed error and write nothing", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const before = yield* Fixtures.leaks(fixtures.runId)
      const error = yield* Effect.flip(fixtures.customer({ email: "not an e-mail" }))
      expect(error.reason).toBe("invalid-overrides")
      expect(error.table).toBe("customers")
      expect(error.message).toContain("CustomerOverrides")
      const customer = yield* fixtures.customer()
      const score = yield* Effect.flip(
        fixtures.match({ id: customer.id }, { id: 0 }, { score: 1.5 })
      )
      expect(score.reason).toBe("invalid-overrides")
      expect(score.message).toContain("1.5")
      const after = yield* Fixtures.leaks(fixtures.runId)
      expect(after.customers).toBe(before.customers + 1)
    }))

  it.scoped("release is set-based: the same number of statements for 3 and for 300 customers", () =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const measure = (n: number) =>
        Effect.gen(function*() {
          const [created, statements] = yield* recordStatements(Effect.scoped(fixtures.customers(n)))
          expect(created).toHaveLength(n)
          expect(yield* count("customers", created.map((c) => c.id))).toBe(0)
          return deletes(statements)
        })
      const small = yield* measure(3)
      const large = yield* measure(300)
      expect(small).toBe(Fixtures.cleanupStatementCount("customers"))
      expect(large).toBe(small)
    }))
})

describe("keys", () => {
  const withRun = (id: string, testName: string) =>
    WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)), {
      runId: id,
      fixtures: { testName: () => testName }
    })
  const keysOf = (id: string, testName: string) =>
    Effect.gen(function*() {
      const fixtures = yield* Fixtures.Fixtures
      const customer = yield* fixtures.customer()
      const tender = yield* fixtures.tender()
      const profile = yield* fixtures.alertProfile(customer)
      return [customer.externalId, customer.email, customer.name, tender.externalId, profile.name]
    }).pipe(Effect.scoped, Effect.provide(withRun(id, testName)))

  it.effect("the same run ID and test reproduce the same keys; another test or run gives others", () =>
    Effect.gen(function*() {
      const id = `it_keys_${RunId.generate().slice(-4)}`
      const first = yield* keysOf(id, "file > suite > test a")
      const again = yield* keysOf(id, "file > suite > test a")
      const otherTest = yield* keysOf(id, "file > suite > test b")
      const otherRun = yield* keysOf(`${id}_x`, "file > suite > test a")
      expect(again).toEqual(first)
      const hash = RunId.testHash("file > suite > test a")
      expect(first[0]).toBe(`wl-${id}-${hash}-1`)
      expect(first[1]).toBe(`wl-${id}-${hash}-1@tenders.example.test`)
      expect(first[2]).toContain(`wl-${id}-${hash}-1`)
      expect(first[3]).toBe(`wl-${id}-${hash}-2`)
      expect(first[4]).toContain(`wl-${id}-${hash}-3`)
      expect(otherTest[0]).not.toBe(first[0])
      expect(otherRun[0]).not.toBe(first[0])
    }))
})

describe("sweep and leak check", () => {
  const otherRun = RunId.generate()
  const Leaky = LeakingFixtures.layer.pipe(
    Layer.provideMerge(
      WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)), {
        runId: `${runId}_leaky`
      })
    )
  )
  const Other = WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)), {
    runId: otherRun
  })

  it.effect("a fixture that skips its release fails the leak check with table and count; sweep removes exactly that run", () =>
    Effect.gen(function*() {
      const leakyRun = `${runId}_leaky` as RunId.RunIdString
      // another run's rows, alive while the sweep runs: they must survive it
      // built in this test's scope, so its pool outlives the survivor's release
      const other = yield* Layer.build(Other)
      const survivor = yield* Effect.flatMap(Fixtures.Fixtures, (f) => f.customer()).pipe(Effect.provide(other))
      yield* Effect.gen(function*() {
        const fixtures = yield* Fixtures.Fixtures
        const customer = yield* fixtures.customer()
        yield* fixtures.alertProfile(customer)
        yield* fixtures.alertProfile(customer)
        yield* fixtures.tender() // the real builder: released
      }).pipe(Effect.scoped)
      const error = yield* Effect.flip(Fixtures.leakCheck(leakyRun))
      expect(error.reason).toBe("leaked")
      expect(error.leaked).toEqual({ customers: 1, alert_profiles: 2 })
      expect(error.message).toContain("customers: 1")
      expect(error.message).toContain("alert_profiles: 2")
      expect(error.message).toContain(`wl-${leakyRun}-`)

      const swept = yield* Fixtures.sweep(leakyRun)
      expect(swept).toEqual({ notifications: 0, tender_matches: 0, alert_profiles: 2, tenders: 0, customers: 1 })
      yield* Fixtures.leakCheck(leakyRun)
      expect(yield* count("customers", [survivor.id])).toBe(1)
    }).pipe(Effect.provide(Leaky), Effect.scoped))

  it.effect("sweep deletes every table of the run in FK order and leaves other runs alone", () =>
    Effect.gen(function*() {
      const sweptRun = `${runId}_swept` as RunId.RunIdString
      const Swept = WorkflowLive.layerFrom(Layer.effect(DsnGuard.VerifiedTarget, TestDatabase.target(database)), {
        runId: sweptRun
      })
      const otherContext = yield* Layer.build(Other)
      const other = yield* Effect.gen(function*() {
        const fixtures = yield* Fixtures.Fixtures
        const customer = yield* fixtures.customer()
        const profile = yield* fixtures.alertProfile(customer)
        const tender = yield* fixtures.tender()
        yield* fixtures.match(profile, tender)
        return customer
      }).pipe(Effect.provide(otherContext))
      // a run killed mid-test: everything created, nothing released
      yield* Effect.gen(function*() {
        const fixtures = yield* Fixtures.Fixtures
        const orphan = yield* Scope.make()
        yield* Scope.extend(Effect.gen(function*() {
          const customer = yield* fixtures.customer()
          const profile = yield* fixtures.alertProfile(customer)
          const tender = yield* fixtures.tender()
          const match = yield* fixtures.match(profile, tender)
          yield* fixtures.notification(customer, { match })
          yield* fixtures.notification(customer)
        }), orphan)
      }).pipe(Effect.provide(Swept), Effect.scoped)

      const target = yield* TestDatabase.target(database)
      const leaks = yield* Fixtures.onTarget(target, Fixtures.leaks(sweptRun))
      expect(leaks).toEqual({ notifications: 2, tender_matches: 1, alert_profiles: 1, tenders: 1, customers: 1 })
      const [swept, statements] = yield* recordStatements(Fixtures.onTarget(target, Fixtures.sweep(sweptRun)))
      expect(swept).toEqual(leaks)
      expect(deletes(statements)).toBe(Fixtures.tables.length)
      expect(yield* Fixtures.onTarget(target, Fixtures.leaks(sweptRun))).toEqual({
        notifications: 0,
        tender_matches: 0,
        alert_profiles: 0,
        tenders: 0,
        customers: 0
      })
      expect(yield* count("customers", [other.id]).pipe(Effect.provide(otherContext))).toBe(1)
      expect(yield* Fixtures.leaks(otherRun).pipe(Effect.provide(otherContext))).toMatchObject({
        customers: 1,
        tenders: 1,
        tender_matches: 1
      })
    }).pipe(Effect.scoped))

  it.effect("onTarget refuses a target the guard did not issue", () =>
    Effect.gen(function*() {
      const real = yield* TestDatabase.target(database)
      const forged = { ...real } as typeof real
      const exit = yield* Effect.exit(Fixtures.onTarget(forged, Fixtures.leaks(runId)))
      expect(Exit.isFailure(exit) && Option.isSome(Cause.dieOption(exit.cause))).toBe(true)
    }))
})
