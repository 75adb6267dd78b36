/** TypeBox schemas for notifications (also embedded in GET /api/alerts/:id). */
import { type TSchema, Type } from 'typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const Notification = Type.Object({
  id: Type.Integer(),
  redacted: Type.Boolean({
    description:
      'the text also covered alerts outside your scope: recipient, phone, body, providerMessageId and errorMessage are null, alertIds lists only your alerts',
  }),
  recipientId: Nullable(Type.String()),
  recipientName: Nullable(Type.String()),
  phone: Nullable(Type.String()),
  channel: Type.String({ description: 'sms or email' }),
  email: Nullable(Type.String({ description: 'the address, for an e-mail (null when redacted)' })),
  subject: Nullable(Type.String({ description: 'an e-mail’s subject' })),
  kind: Type.String({
    description:
      'outage, restoration, device_offline, device_online, voltage, flapping, overflow, report (scheduled report e-mail)',
  }),
  body: Nullable(Type.String()),
  status: Type.String({
    description: "pending, retrying history, Twilio's queued/sent/delivered/undelivered/failed, or suppressed",
  }),
  reason: Nullable(
    Type.String({ description: "why it was suppressed: quiet_hours, cap, email_off (no SMTP_URL); a report's period" }),
  ),
  providerMessageId: Nullable(Type.String()),
  segments: Nullable(Type.Integer()),
  attempts: Type.Integer(),
  errorCode: Nullable(Type.Integer()),
  errorMessage: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  sentAt: Nullable(Type.String({ format: 'date-time' })),
  updatedAt: Type.String({ format: 'date-time' }),
  alertIds: Type.Array(Type.Integer()),
  history: Type.Array(
    Type.Object({
      status: Type.String(),
      errorCode: Nullable(Type.Integer()),
      source: Type.String({ description: 'worker or callback' }),
      at: Type.String({ format: 'date-time' }),
    }),
  ),
});

export const NotificationList = Type.Object({ items: Type.Array(Notification) });

export const NotificationQuery = Type.Object(
  {
    alertId: Type.Optional(Type.Integer({ minimum: 1 })),
    recipientId: Type.Optional(Type.String({ format: 'uuid' })),
    status: Type.Optional(Type.String()),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    before: Type.Optional(Type.Integer({ minimum: 1, description: 'page: ids below this one' })),
  },
  { additionalProperties: false },
);
