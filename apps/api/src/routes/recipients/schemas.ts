/** TypeBox schemas for /api/recipients. */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
// Type arrays, not anyOf: the API's Ajv coerces types and would turn null into "".
const NullableString = (o: object = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...o });
const Clock = { pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM local time' };
const ScopeKind = Type.Enum(['all', 'region', 'customer', 'device', 'line']);
const Kind = Type.Enum(['outage', 'restoration', 'device_offline', 'device_online', 'voltage']);
const Channel = Type.Enum(['sms', 'email', 'both'], {
  description: 'how alerts reach this recipient: sms (default), email, or both; each needs its address',
});

const props = {
  name: Type.String({ minLength: 1, maxLength: 100 }),
  phone: NullableString({
    minLength: 3,
    maxLength: 32,
    description: 'E.164 or Sri Lankan national form (077 123 4567); may be null for channel email',
  }),
  email: NullableString({
    minLength: 3,
    maxLength: 254,
    description: 'one plain address (ops@example.lk); required for channel email or both',
  }),
  channel: Channel,
  enabled: Type.Boolean(),
  scopeKind: ScopeKind,
  scopeValue: NullableString({
    maxLength: 100,
    description: 'region / customer name, or device id for device and line',
  }),
  scopeLine: Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 1, maximum: 8 }),
  kinds: Type.Array(Kind, { minItems: 1, uniqueItems: true }),
  quietStart: NullableString(Clock),
  quietEnd: NullableString(Clock),
  timeZone: NullableString({ description: 'IANA zone for quiet hours; default SPMS_TIME_ZONE' }),
};

export const CreateRecipientBody = Type.Object(
  {
    name: props.name,
    phone: Type.Optional(props.phone),
    email: Type.Optional(props.email),
    channel: Type.Optional(props.channel),
    enabled: Type.Optional(props.enabled),
    scopeKind: props.scopeKind,
    scopeValue: Type.Optional(props.scopeValue),
    scopeLine: Type.Optional(props.scopeLine),
    kinds: props.kinds,
    quietStart: Type.Optional(props.quietStart),
    quietEnd: Type.Optional(props.quietEnd),
    timeZone: Type.Optional(props.timeZone),
  },
  { additionalProperties: false },
);

export const UpdateRecipientBody = Type.Object(
  {
    name: Type.Optional(props.name),
    phone: Type.Optional(props.phone),
    email: Type.Optional(props.email),
    channel: Type.Optional(props.channel),
    enabled: Type.Optional(props.enabled),
    scopeKind: Type.Optional(props.scopeKind),
    scopeValue: Type.Optional(props.scopeValue),
    scopeLine: Type.Optional(props.scopeLine),
    kinds: Type.Optional(props.kinds),
    quietStart: Type.Optional(props.quietStart),
    quietEnd: Type.Optional(props.quietEnd),
    timeZone: Type.Optional(props.timeZone),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Recipient = Type.Object({
  id: Type.String(),
  name: Type.String(),
  phone: Nullable(Type.String({ description: 'E.164' })),
  email: Nullable(Type.String()),
  channel: Channel,
  enabled: Type.Boolean(),
  scopeKind: ScopeKind,
  scopeValue: Nullable(Type.String()),
  scopeLine: Nullable(Type.Integer()),
  kinds: Type.Array(Kind),
  quietStart: Nullable(Type.String()),
  quietEnd: Nullable(Type.String()),
  timeZone: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  warnings: Type.Array(Type.String(), {
    description: 'what stops this recipient being told, e.g. e-mail off because no worker has SMTP_URL',
  }),
});

export const RecipientList = Type.Object({ items: Type.Array(Recipient) });
export const RecipientParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
