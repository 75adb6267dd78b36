/** TypeBox schemas for /api/alerts. */
import { type TSchema, Type } from 'typebox';
import { AlertEscalation } from '../escalation/schemas.js';
import { Notification } from '../notifications/schemas.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const Alert = Type.Object({
  id: Type.Integer(),
  type: Type.String({ description: 'outage, device_offline, voltage' }),
  severity: Type.String({ description: 'critical (whole site / CEB), major, minor, warning' }),
  status: Type.Enum(['ACTIVE_UNACK', 'ACTIVE_ACK', 'CLEARED_UNACK', 'CLEARED_ACK']),
  deviceId: Type.String(),
  deviceName: Type.String(),
  line: Nullable(Type.Integer()),
  lineLabel: Nullable(Type.String()),
  region: Nullable(Type.String()),
  customer: Nullable(Type.String()),
  startedAt: Type.String({ format: 'date-time' }),
  clearedAt: Nullable(Type.String({ format: 'date-time' })),
  voided: Type.Boolean({ description: 'late data showed it never happened as stored' }),
  acknowledgedAt: Nullable(Type.String({ format: 'date-time' })),
  acknowledgedBy: Nullable(Type.String()),
  acknowledgedVia: Nullable(
    Type.Union([Type.Literal('dashboard'), Type.Literal('sms')], {
      description: 'sms: acknowledged by a reply from the phone in acknowledgedBy ("sms:+94…")',
    }),
  ),
  notifiedAt: Nullable(Type.String({ format: 'date-time' })),
  held: Type.Boolean({ description: 'held back because the line was flapping' }),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export const AlertList = Type.Object({ items: Type.Array(Alert) });

export const Delivery = Type.Object({
  recipientId: Nullable(Type.String()),
  recipientName: Nullable(Type.String()),
  phone: Nullable(Type.String({ description: 'null when the text is redacted (see Notification.redacted)' })),
  channel: Type.String({ description: 'sms or email' }),
  email: Nullable(Type.String({ description: 'for an e-mail; null when redacted' })),
  notificationId: Type.Integer(),
  status: Type.String(),
  errorCode: Nullable(Type.Integer()),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const AlertDetail = Type.Object({
  ...Alert.properties,
  notifications: Type.Array(Notification),
  deliveries: Type.Array(Delivery, {
    description: 'latest message per recipient and channel (text, e-mail) and its delivery status',
  }),
  escalation: AlertEscalation,
});

export const AlertParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

export const AlertQuery = Type.Object(
  {
    status: Type.Optional(Type.Enum(['active', 'cleared'])),
    acknowledged: Type.Optional(Type.Boolean()),
    severity: Type.Optional(Type.Enum(['critical', 'major', 'minor', 'warning'])),
    type: Type.Optional(Type.Enum(['outage', 'device_offline', 'voltage'])),
    deviceId: Type.Optional(Type.String({ format: 'uuid' })),
    region: Type.Optional(Type.String()),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'page: ids below this one' })),
  },
  { additionalProperties: false },
);
