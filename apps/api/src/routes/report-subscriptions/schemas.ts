/** TypeBox schemas for /api/report-subscriptions. */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
// Type arrays, not anyOf: the API's Ajv coerces types and would turn null into "".
const NullableString = (o: object = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...o });
const ScopeKind = Type.Enum(['all', 'region', 'customer'], {
  description: 'the whole fleet, one region or one customer',
});

const props = {
  recipientId: Type.String({ format: 'uuid', description: 'an alert recipient with an e-mail address' }),
  scopeKind: ScopeKind,
  scopeValue: NullableString({
    minLength: 1,
    maxLength: 100,
    description: 'the region or customer name; null for all',
  }),
  monthly: Type.Boolean({ description: 'the previous calendar month, sent after local midnight on the 1st' }),
  weekly: Type.Boolean({ description: 'the previous Monday-Sunday week, sent after local midnight on Monday' }),
  worstSites: Type.Integer({ minimum: 0, maximum: 100, description: 'worst sites listed (by outage minutes)' }),
  enabled: Type.Boolean(),
};

export const CreateReportSubscriptionBody = Type.Object(
  {
    recipientId: props.recipientId,
    scopeKind: props.scopeKind,
    scopeValue: Type.Optional(props.scopeValue),
    monthly: Type.Optional(props.monthly),
    weekly: Type.Optional(props.weekly),
    worstSites: Type.Optional(props.worstSites),
    enabled: Type.Optional(props.enabled),
  },
  { additionalProperties: false },
);

export const UpdateReportSubscriptionBody = Type.Object(
  {
    recipientId: Type.Optional(props.recipientId),
    scopeKind: Type.Optional(props.scopeKind),
    scopeValue: Type.Optional(props.scopeValue),
    monthly: Type.Optional(props.monthly),
    weekly: Type.Optional(props.weekly),
    worstSites: Type.Optional(props.worstSites),
    enabled: Type.Optional(props.enabled),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const ReportSubscription = Type.Object({
  id: Type.String(),
  recipientId: Type.String(),
  recipientName: Type.String(),
  email: Nullable(Type.String()),
  scopeKind: ScopeKind,
  scopeValue: Nullable(Type.String()),
  monthly: Type.Boolean(),
  weekly: Type.Boolean(),
  worstSites: Type.Integer(),
  enabled: Type.Boolean(),
  lastPeriods: Type.Array(Type.String(), { description: "periods already sent, newest first ('monthly:2026-11')" }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  warnings: Type.Array(Type.String(), { description: 'e.g. e-mail off: no worker has SMTP_URL' }),
});

export const ReportSubscriptionList = Type.Object({ items: Type.Array(ReportSubscription) });
export const ReportSubscriptionParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const ReportSubscriptionQuery = Type.Object(
  { recipientId: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);
