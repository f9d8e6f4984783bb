/**
 * The lane's environment contract: every variable it reads, in one place.
 *
 * `TENDERBOT_WORKFLOW_DB_DSN` is the only database setting. There is deliberately no fallback to
 * `TENDERBOT_DB_DSN`: that variable points at the development database, and borrowing it would let a
 * destructive lane reset somebody's work.
 */
import { Config, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import { type ConfigError, InvalidData } from "effect/ConfigError"
import {
  confirmDropVariable,
  developmentDsnVariable,
  dsnVariable,
  lockTimeoutVariable,
  migrationsDirectoryVariable,
  onMissingVariable,
  reportDirVariable
} from "./internal/variables.js"
import * as Variables from "./internal/variables.js"

export {
  confirmDropVariable,
  developmentDsnVariable,
  dsnVariable,
  lockTimeoutVariable,
  migrationsDirectoryVariable,
  onMissingVariable,
  reportDirVariable,
  workflowDatabase
} from "./internal/variables.js"

/** Everything the lane reads from its environment. */
export interface WorkflowLiveConfig {
  /** `TENDERBOT_WORKFLOW_DB_DSN`, kept redacted. */
  readonly dsn: Option.Option<Redacted.Redacted<string>>
  /** Whether `TENDERBOT_DB_DSN` is set: only used to explain that it is not borrowed. */
  readonly developmentDsnSet: boolean
  /** The driver's own fallbacks (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `USER`) for parts a DSN leaves out. */
  readonly driverDefaults: DriverDefaults
  /** `WORKFLOW_LIVE_CONFIRM_DROP`: the database name, typed to allow dropping an unmarked database that is not empty. */
  readonly confirmDrop: Option.Option<string>
  /** `WORKFLOW_LIVE_MIGRATIONS_DIR`: the `NNNN_name.sql` directory; none means the package's own migrations. */
  readonly migrationsDirectory: Option.Option<string>
  /** `WORKFLOW_LIVE_LOCK_TIMEOUT`: how long a reset waits for another lane's reset on the same server. */
  readonly lockTimeout: Duration.Duration
}

/** The default bound on the wait for the reset lock. */
export const defaultLockTimeout: Duration.Duration = Duration.seconds(60)

/** The `PG*` variables the driver falls back to; read so the guard resolves exactly what the driver would. */
export interface DriverDefaults {
  readonly host: Option.Option<string>
  readonly port: Option.Option<string>
  readonly user: Option.Option<string>
  readonly database: Option.Option<string>
}

/** The service tag for the lane's environment contract. */
export const WorkflowLiveConfig: Context.Tag<WorkflowLiveConfig, WorkflowLiveConfig> = Context.GenericTag<
  WorkflowLiveConfig
>("workflow-live/WorkflowLiveConfig")

const optionalNonEmpty = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Config.map(Option.filter((value) => value.trim().length > 0))
  )

// Config.duration reads "-5 seconds" as zero: a negative wait is refused instead
const duration = (name: string): Config.Config<Duration.Duration> =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const decoded = /^\s*-/.test(raw) ? Option.none() : Duration.decodeUnknown(raw.trim())
      return Option.match(decoded, {
        onNone: () => Either.left(InvalidData([], `Expected a duration that is not negative, such as "60 seconds" or "500 millis", but received "${raw}"`)),
        onSome: Either.right
      })
    })
  )

/** Reads the contract from the environment (or any `ConfigProvider`). */
export const config: Config.Config<WorkflowLiveConfig> = Config.all({
  dsn: Config.option(Config.redacted(dsnVariable)).pipe(
    Config.map(Option.filter((value) => Redacted.value(value).trim().length > 0))
  ),
  developmentDsnSet: optionalNonEmpty(developmentDsnVariable).pipe(Config.map(Option.isSome)),
  driverDefaults: Config.all({
    host: optionalNonEmpty("PGHOST"),
    port: optionalNonEmpty("PGPORT"),
    user: Config.all([optionalNonEmpty("PGUSER"), optionalNonEmpty("USER")]).pipe(
      Config.map(([pgUser, user]) => Option.orElse(pgUser, () => user))
    ),
    database: optionalNonEmpty("PGDATABASE")
  }),
  confirmDrop: optionalNonEmpty(confirmDropVariable).pipe(Config.map(Option.map((value) => value.trim()))),
  migrationsDirectory: optionalNonEmpty(migrationsDirectoryVariable),
  lockTimeout: duration(lockTimeoutVariable).pipe(Config.withDefault(defaultLockTimeout))
})

/** Builds the contract from the current `ConfigProvider`. */
export const make: Effect.Effect<WorkflowLiveConfig, ConfigError> = config

/** The contract from plain values (tests, embedding). */
export const layer = (options: {
  readonly dsn?: string | undefined
  readonly developmentDsnSet?: boolean | undefined
  readonly driverDefaults?: {
    readonly host?: string | undefined
    readonly port?: string | undefined
    readonly user?: string | undefined
    readonly database?: string | undefined
  } | undefined
  readonly confirmDrop?: string | undefined
  readonly migrationsDirectory?: string | undefined
  readonly lockTimeout?: Duration.DurationInput | undefined
}): Layer.Layer<WorkflowLiveConfig> =>
  Layer.succeed(WorkflowLiveConfig, {
    dsn: Option.fromNullable(options.dsn).pipe(
      Option.filter((value) => value.trim().length > 0),
      Option.map(Redacted.make)
    ),
    developmentDsnSet: options.developmentDsnSet ?? false,
    driverDefaults: {
      host: Option.fromNullable(options.driverDefaults?.host),
      port: Option.fromNullable(options.driverDefaults?.port),
      user: Option.fromNullable(options.driverDefaults?.user),
      database: Option.fromNullable(options.driverDefaults?.database)
    },
    confirmDrop: Option.fromNullable(options.confirmDrop),
    migrationsDirectory: Option.fromNullable(options.migrationsDirectory),
    lockTimeout: Duration.decode(options.lockTimeout ?? defaultLockTimeout)
  })

/** The contract read from the environment. */
export const layerConfig: Layer.Layer<WorkflowLiveConfig, ConfigError> = Layer.effect(WorkflowLiveConfig, make)

/** `fail` (the default) fails the lane and lists every problem; `skip` reports the whole lane as skipped. */
export type OnMissing = Variables.OnMissing

/** Every accepted value of `WORKFLOW_LIVE_ON_MISSING`; anything else is itself an error. */
export const onMissingValues: ReadonlyArray<OnMissing> = Variables.onMissingValues

/** The raw on-missing setting: Preflight validates it, so a typo is reported alongside every other problem. */
export const onMissing: Config.Config<Option.Option<string>> = optionalNonEmpty(onMissingVariable)

/** The raw report directory setting. */
export const reportDir: Config.Config<Option.Option<string>> = optionalNonEmpty(reportDirVariable)
