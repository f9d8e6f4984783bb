// The leak check without keys: rows written after the baseline, in any table, by anyone, are the run's;
// rows from before it (a migration's seed data) are not. The sweep deletes the run's rows children first
// and leaves the rows it is told to keep; the next run can read what a dead run left.
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import pg from "pg"
import * as DatabaseReset from "../../src/DatabaseReset.js"
import * as LeakCheck from "../../src/LeakCheck.js"
import type * as RunId from "../../src/RunId.js"
import * as TestDatabase from "../support/testDatabase.js"

const database = "wl_it_leak_check"

beforeAll(() => TestDatabase.runPromise(TestDatabase.create(database)), 60_000)
afterAll(() => TestDatabase.runPromise(TestDatabase.drop(database)), 60_000)

const query = async (text: string, params: ReadonlyArray<unknown> = []) => {
  const client = new pg.Client(TestDatabase.connection(database))
  await client.connect()
  try {
    return (await client.query(text, [...params])).rows
  } finally {
    await client.end()
  }
}

const insertCustomer = async (externalId: string): Promise<string> =>
  (await query(`INSERT INTO customers (external_id, name, email) VALUES ($1, 'C', $1 || '@x.test') RETURNING id`, [externalId]))[0].id

const everything = async (externalId: string) => {
  const customer = await insertCustomer(externalId)
  const [profile] = await query(`INSERT INTO alert_profiles (customer_id, name) VALUES ($1, 'P') RETURNING id`, [customer])
  const [tender] = await query(
    `INSERT INTO tenders (external_id, title, buyer, published_at) VALUES ($1, 'T', 'B', now()) RETURNING id`,
    [`ted-${externalId}`]
  )
  const [match] = await query(
    `INSERT INTO tender_matches (alert_profile_id, tender_id, score) VALUES ($1, $2, 0.5) RETURNING id`,
    [profile.id, tender.id]
  )
  await query(
    `INSERT INTO notifications (customer_id, tender_match_id, channel, subject, body) VALUES ($1, $2, 'email', 's', 'b')`,
    [customer, match.id]
  )
  return { customer, profile: String(profile.id) }
}

describe("LeakCheck", () => {
  it.effect("names every table the run wrote to, sweeps children first, keeps what it is told, leaves older rows", () =>
    Effect.gen(function*() {
      const target = yield* TestDatabase.target(database)
      const seed = yield* Effect.promise(() => insertCustomer("seed-before-the-baseline"))
      const base = yield* LeakCheck.baseline(target, "leak_one" as RunId.RunIdString)
      yield* Effect.promise(() => everything("unkeyed-1"))
      const kept = yield* Effect.promise(() => everything("kept-1"))
      const all = { alert_profiles: 2, customers: 2, notifications: 2, tender_matches: 2, tenders: 2 }
      expect(yield* LeakCheck.written(target, base)).toEqual(all)
      const error = yield* Effect.flip(LeakCheck.check(target, base))
      expect(error.reason).toBe("leaked")
      expect(error.message).toContain("alert_profiles 2, customers 2, notifications 2, tender_matches 2, tenders 2")

      const keep = { customers: [kept.customer], alert_profiles: [kept.profile] }
      expect(yield* LeakCheck.written(target, base, { keep })).toEqual({ ...all, customers: 1, alert_profiles: 1 })
      const swept = yield* LeakCheck.sweep(target, base, { keep })
      expect(swept).toEqual({ alert_profiles: 1, customers: 1, notifications: 2, tender_matches: 2, tenders: 2 })
      expect(yield* LeakCheck.written(target, base)).toEqual({ alert_profiles: 1, customers: 1 })
      expect(yield* LeakCheck.written(target, base, { keep })).toEqual({})
      const customers = yield* Effect.promise(() => query(`SELECT id FROM customers ORDER BY id`))
      expect(customers.map((r) => String(r.id))).toEqual([seed, kept.customer])
    }))

  it.effect("the next run reads what the last one left, unless a lane still holds the database", () =>
    Effect.gen(function*() {
      const target = yield* TestDatabase.target(database)
      const base = yield* LeakCheck.baseline(target, "leak_two" as RunId.RunIdString)
      expect(Option.isNone(yield* LeakCheck.leftover(target))).toBe(true)
      yield* Effect.promise(() => everything("dead-run"))
      expect(yield* LeakCheck.leftover(target)).toEqual(
        Option.some({ runId: "leak_two", rows: { alert_profiles: 1, customers: 1, notifications: 1, tender_matches: 1, tenders: 1 } })
      )
      // a lane running its tests holds the shared lock: its rows are not leftovers
      const holder = new pg.Client(TestDatabase.connection("postgres"))
      yield* Effect.promise(() => holder.connect())
      yield* Effect.promise(() => holder.query(`SELECT pg_advisory_lock_shared($1, hashtext($2))`, [DatabaseReset.lockNamespace, database]))
      expect(Option.isNone(yield* LeakCheck.leftover(target))).toBe(true)
      yield* Effect.promise(() => holder.end())
      yield* LeakCheck.sweep(target, base)
    }))
})
