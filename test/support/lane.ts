/** Helpers for the tests that run the real lane: its DSN on the test server, its reports, its rows. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import type * as LaneReport from "../../src/LaneReport.js"
import { withClient } from "./sentinels.js"
import * as TestDatabase from "./testDatabase.js"

/** The lane's only database. */
export const workflowDatabase = "tenderbot_workflow_test"

/** The Vitest config of the probe suites (test/support/lane/*.live.ts). */
export const probeConfig = "test/support/lane/vitest.config.ts"

/** A DSN for the workflow database on the test server; `password` replaces the server's own when given. */
export const laneDsn = (password?: string): string =>
  TestDatabase.url(workflowDatabase, password === undefined ? {} : { password })

/** The report.json a lane wrote to `dir`. */
export const readReport = (dir: string): LaneReport.Report =>
  JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as LaneReport.Report

/** Rows carrying the run's keys (customers, tenders, and the profiles of its customers). */
export const rowsOfRun = (runId: string): Promise<number> =>
  withClient(workflowDatabase, async (client) => {
    const result = await client.query<{ n: string }>(
      `SELECT (SELECT count(*) FROM customers WHERE starts_with(external_id, $1))
            + (SELECT count(*) FROM tenders WHERE starts_with(external_id, $1))
            + (SELECT count(*) FROM alert_profiles p JOIN customers c ON c.id = p.customer_id
               WHERE starts_with(c.external_id, $1)) AS n`,
      [`wl-${runId}-`]
    )
    return Number(result.rows[0]!.n)
  })

/** Rows per table of the workflow database (every user table). */
export const rowsPerTable = (): Promise<Record<string, number>> =>
  withClient(workflowDatabase, async (client) => {
    const tables = await client.query<{ name: string }>(
      `SELECT format('%I', c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1`
    )
    const counts: Record<string, number> = {}
    for (const { name } of tables.rows) {
      counts[name] = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${name}`)).rows[0]!.n)
    }
    return counts
  })
