/**
 * The fixtures' row and override schemas, in a leaf module so the builders can decode with them;
 * `Fixtures` re-exports each one as the public contract.
 */
import { Schema } from "effect"

const Id = Schema.NumberFromString
const Numeric = Schema.NumberFromString
const NullableNumeric = Schema.NullOr(Schema.NumberFromString)

/** A customer row as the fixture created it. */
export const Customer = Schema.Struct({
  id: Id,
  externalId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("external_id")),
  name: Schema.String,
  email: Schema.String
})
/** A customer row as the fixture created it. */
export type Customer = typeof Customer.Type

/** An alert profile row. */
export const AlertProfile = Schema.Struct({
  id: Id,
  customerId: Schema.propertySignature(Id).pipe(Schema.fromKey("customer_id")),
  name: Schema.String,
  keywords: Schema.Array(Schema.String),
  cpvCodes: Schema.propertySignature(Schema.Array(Schema.String)).pipe(Schema.fromKey("cpv_codes")),
  regions: Schema.Array(Schema.String),
  minValueEur: Schema.propertySignature(NullableNumeric).pipe(Schema.fromKey("min_value_eur")),
  active: Schema.Boolean
})
/** An alert profile row. */
export type AlertProfile = typeof AlertProfile.Type

/** A tender row. */
export const Tender = Schema.Struct({
  id: Id,
  externalId: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("external_id")),
  title: Schema.String,
  description: Schema.String,
  buyer: Schema.String,
  cpvCodes: Schema.propertySignature(Schema.Array(Schema.String)).pipe(Schema.fromKey("cpv_codes")),
  region: Schema.NullOr(Schema.String),
  valueEur: Schema.propertySignature(NullableNumeric).pipe(Schema.fromKey("value_eur")),
  publishedAt: Schema.propertySignature(Schema.DateFromSelf).pipe(Schema.fromKey("published_at")),
  deadlineAt: Schema.propertySignature(Schema.NullOr(Schema.DateFromSelf)).pipe(Schema.fromKey("deadline_at"))
})
/** A tender row. */
export type Tender = typeof Tender.Type

/** A tender match row. */
export const TenderMatch = Schema.Struct({
  id: Id,
  alertProfileId: Schema.propertySignature(Id).pipe(Schema.fromKey("alert_profile_id")),
  tenderId: Schema.propertySignature(Id).pipe(Schema.fromKey("tender_id")),
  score: Numeric,
  summary: Schema.NullOr(Schema.String)
})
/** A tender match row. */
export type TenderMatch = typeof TenderMatch.Type

/** A notification row. */
export const Notification = Schema.Struct({
  id: Id,
  customerId: Schema.propertySignature(Id).pipe(Schema.fromKey("customer_id")),
  tenderMatchId: Schema.propertySignature(Schema.NullOr(Id)).pipe(Schema.fromKey("tender_match_id")),
  channel: Schema.Literal("email", "webhook"),
  subject: Schema.String,
  body: Schema.String,
  status: Schema.Literal("pending", "sent", "failed")
})
/** A notification row. */
export type Notification = typeof Notification.Type

const Text = Schema.String.pipe(Schema.minLength(1))
const Codes = Schema.Array(Text)
const Euros = Schema.NullOr(Schema.Number.pipe(Schema.nonNegative()))

/** What a test may override on a customer; the external id is always the run key (the sweep needs it). */
export const CustomerOverrides = Schema.Struct({
  name: Schema.optional(Text),
  email: Schema.optional(Schema.String.pipe(Schema.pattern(/^[^@\s]+@[^@\s]+\.[^@\s]+$/)))
})
/** What a test may override on a customer. */
export type CustomerOverrides = typeof CustomerOverrides.Type

/** What a test may override on an alert profile. */
export const AlertProfileOverrides = Schema.Struct({
  name: Schema.optional(Text),
  keywords: Schema.optional(Codes),
  cpvCodes: Schema.optional(Codes),
  regions: Schema.optional(Codes),
  minValueEur: Schema.optional(Euros),
  active: Schema.optional(Schema.Boolean)
})
/** What a test may override on an alert profile. */
export type AlertProfileOverrides = typeof AlertProfileOverrides.Type

/** What a test may override on a tender; the external id is always the run key. */
export const TenderOverrides = Schema.Struct({
  title: Schema.optional(Text),
  description: Schema.optional(Schema.String),
  buyer: Schema.optional(Text),
  cpvCodes: Schema.optional(Codes),
  region: Schema.optional(Schema.NullOr(Text)),
  valueEur: Schema.optional(Euros),
  publishedAt: Schema.optional(Schema.DateFromSelf),
  deadlineAt: Schema.optional(Schema.NullOr(Schema.DateFromSelf))
})
/** What a test may override on a tender. */
export type TenderOverrides = typeof TenderOverrides.Type

/** What a test may override on a match. */
export const MatchOverrides = Schema.Struct({
  score: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
  summary: Schema.optional(Schema.NullOr(Schema.String))
})
/** What a test may override on a match. */
export type MatchOverrides = typeof MatchOverrides.Type

/** What a test may override on a notification. */
export const NotificationOverrides = Schema.Struct({
  channel: Schema.optional(Schema.Literal("email", "webhook")),
  subject: Schema.optional(Text),
  body: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Literal("pending", "sent", "failed"))
})
/** What a test may override on a notification. */
export type NotificationOverrides = typeof NotificationOverrides.Type
