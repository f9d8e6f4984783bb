/** @tenderbot/workflow-live: a typed, Effect-based harness for live workflow tests against PostgreSQL. */
export * as DatabaseReset from "./DatabaseReset.js"
export * as DsnGuard from "./DsnGuard.js"
export * as LaneDatabase from "./LaneDatabase.js"
export * as Migrations from "./Migrations.js"
export * as Preflight from "./Preflight.js"
export * as WorkflowLiveConfig from "./WorkflowLiveConfig.js"
