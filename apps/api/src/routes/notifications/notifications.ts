/**
 * Texts sent (or held back) for alerts, with their delivery status (receipts are recorded
 * by @spms/sms recordDeliveryReceipt, for Twilio and SMPP alike). A scoped principal sees
 * the texts that covered at least one alert of a device in its scope; a grouped text that also covered alerts outside the
 * scope is shown `redacted`: its status and history stay, but recipient, phone number, text,
 * provider id and error message are null and `alertIds` lists only the alerts in scope.
 */
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

export interface NotificationView {
  id: number;
  /** Covers alerts outside the caller's scope: recipient, phone, body… are withheld. */
  redacted: boolean;
  recipientId: string | null;
  recipientName: string | null;
  phone: string | null;
  /** sms or email */
  channel: string;
  email: string | null;
  subject: string | null;
  kind: string;
  body: string | null;
  status: string;
  reason: string | null;
  providerMessageId: string | null;
  segments: number | null;
  attempts: number;
  errorCode: number | null;
  errorMessage: string | null;
  createdAt: string;
  sentAt: string | null;
  updatedAt: string;
  alertIds: number[];
  history: { status: string; errorCode: number | null; source: string; at: string }[];
}

export interface NotificationFilters {
  alertId?: number;
  recipientId?: string;
  status?: string;
  limit?: number;
  before?: number;
}

type Row = Record<string, unknown> & { created_at: Date; sent_at: Date | null; updated_at: Date };

export async function listNotifications(
  db: Pool,
  scope: Scope | null,
  f: NotificationFilters,
): Promise<NotificationView[]> {
  const p = new SqlParams();
  const w = ['TRUE'];
  // The text's alerts joined to their devices (alias d); a device without a region is
  // outside every region scope, so a NULL condition counts as outside.
  const alertsOf = (cond: string) =>
    `SELECT 1 FROM notification_alerts na JOIN alerts a ON a.id = na.alert_id JOIN devices d ON d.id = a.device_id
      WHERE na.notification_id = n.id AND ${cond}`;
  const within = () => (scope ? `coalesce(${scopeCondition(scope, 'd', p)}, false)` : 'TRUE');
  const outside = scope ? `EXISTS (${alertsOf(`NOT ${within()}`)})` : 'FALSE';
  if (scope) w.push(`EXISTS (${alertsOf(within())})`);
  if (f.alertId !== undefined) w.push(`EXISTS (${alertsOf(`na.alert_id = ${p.add(f.alertId)} AND ${within()}`)})`);
  if (f.recipientId) {
    w.push(`n.recipient_id = ${p.add(f.recipientId)}::uuid`);
    // Redacted texts never match a recipient filter: that would tell who got them.
    if (scope) w.push(`NOT ${outside}`);
  }
  if (f.status) w.push(`n.status = ${p.add(f.status)}`);
  if (f.before) w.push(`n.id < ${p.add(f.before)}`);
  const { rows } = await db.query<Row>(
    `SELECT n.id::float8 AS id, ${outside} AS redacted, n.recipient_id::text, r.name AS recipient_name, n.phone, n.channel, n.email, n.subject, n.kind, n.body, n.status, n.reason,
            n.provider_message_id, n.segments, n.attempts, n.error_code, n.error_message, n.created_at, n.sent_at, n.updated_at,
            coalesce((SELECT array_agg(na.alert_id::float8 ORDER BY na.alert_id) FROM notification_alerts na
                        ${scope ? `JOIN alerts a ON a.id = na.alert_id JOIN devices d ON d.id = a.device_id AND ${within()}` : ''}
                       WHERE na.notification_id = n.id), '{}') AS alert_ids,
            coalesce((SELECT json_agg(json_build_object('status', h.status, 'errorCode', h.error_code, 'source', h.source, 'at', h.at) ORDER BY h.id)
                        FROM notification_status_history h WHERE h.notification_id = n.id), '[]') AS history
       FROM notifications n LEFT JOIN alert_recipients r ON r.id = n.recipient_id
      WHERE ${w.join(' AND ')} ORDER BY n.id DESC LIMIT ${p.add(f.limit ?? 100)}`,
    p.values,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    redacted: r.redacted === true,
    ...(r.redacted === true
      ? {
          recipientId: null,
          recipientName: null,
          phone: null,
          email: null,
          subject: null,
          body: null,
          providerMessageId: null,
          errorMessage: null,
        }
      : {
          recipientId: r.recipient_id as string | null,
          recipientName: r.recipient_name as string | null,
          phone: r.phone as string | null,
          email: r.email as string | null,
          subject: r.subject as string | null,
          body: r.body as string,
          providerMessageId: r.provider_message_id as string | null,
          // Twilio's messages can quote the number.
          errorMessage: r.error_message as string | null,
        }),
    channel: r.channel as string,
    kind: r.kind as string,
    status: r.status as string,
    reason: r.reason as string | null,
    segments: r.segments as number | null,
    attempts: r.attempts as number,
    errorCode: r.error_code as number | null,
    createdAt: r.created_at.toISOString(),
    sentAt: r.sent_at?.toISOString() ?? null,
    updatedAt: r.updated_at.toISOString(),
    alertIds: (r.alert_ids as number[]).map(Number),
    history: (r.history as { status: string; errorCode: number | null; source: string; at: string }[]).map((h) => ({
      ...h,
      at: new Date(h.at).toISOString(),
    })),
  }));
}
