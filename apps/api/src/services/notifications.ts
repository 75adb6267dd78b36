/**
 * Texts sent (or held back) for alerts, with their delivery status, and Twilio's delivery
 * receipts recorded against them. A scoped principal sees the texts that covered at least
 * one alert of a device in its scope.
 */
import type { Pool } from '@spms/db';
import { type MessageStatus, type StatusCallback, shouldUpdateStatus } from '@spms/sms';
import type { Scope } from '../plugins/auth.js';
import { SqlParams, scopeCondition } from './scope.js';

export interface NotificationView {
  id: number;
  recipientId: string | null;
  recipientName: string | null;
  phone: string;
  kind: string;
  body: string;
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
  if (scope) {
    w.push(`EXISTS (SELECT 1 FROM notification_alerts na JOIN alerts a ON a.id = na.alert_id JOIN devices d ON d.id = a.device_id
                     WHERE na.notification_id = n.id AND ${scopeCondition(scope, 'd', p)})`);
  }
  if (f.alertId !== undefined)
    w.push(
      `EXISTS (SELECT 1 FROM notification_alerts x WHERE x.notification_id = n.id AND x.alert_id = ${p.add(f.alertId)})`,
    );
  if (f.recipientId) w.push(`n.recipient_id = ${p.add(f.recipientId)}::uuid`);
  if (f.status) w.push(`n.status = ${p.add(f.status)}`);
  if (f.before) w.push(`n.id < ${p.add(f.before)}`);
  const { rows } = await db.query<Row>(
    `SELECT n.id::float8 AS id, n.recipient_id::text, r.name AS recipient_name, n.phone, n.kind, n.body, n.status, n.reason,
            n.provider_message_id, n.segments, n.attempts, n.error_code, n.error_message, n.created_at, n.sent_at, n.updated_at,
            coalesce((SELECT array_agg(na.alert_id::float8 ORDER BY na.alert_id) FROM notification_alerts na WHERE na.notification_id = n.id), '{}') AS alert_ids,
            coalesce((SELECT json_agg(json_build_object('status', h.status, 'errorCode', h.error_code, 'source', h.source, 'at', h.at) ORDER BY h.id)
                        FROM notification_status_history h WHERE h.notification_id = n.id), '[]') AS history
       FROM notifications n LEFT JOIN alert_recipients r ON r.id = n.recipient_id
      WHERE ${w.join(' AND ')} ORDER BY n.id DESC LIMIT ${p.add(f.limit ?? 100)}`,
    p.values,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    recipientId: r.recipient_id as string | null,
    recipientName: r.recipient_name as string | null,
    phone: r.phone as string,
    kind: r.kind as string,
    body: r.body as string,
    status: r.status as string,
    reason: r.reason as string | null,
    providerMessageId: r.provider_message_id as string | null,
    segments: r.segments as number | null,
    attempts: r.attempts as number,
    errorCode: r.error_code as number | null,
    errorMessage: r.error_message as string | null,
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

/**
 * Records a receipt. Callbacks arrive out of order and may repeat: the status only moves
 * forward (shouldUpdateStatus), every receipt is kept in the history. Returns false for an
 * unknown message id.
 */
export async function recordReceipt(db: Pool, receipt: StatusCallback): Promise<boolean> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ id: string; status: string }>(
      'SELECT id::text, status FROM notifications WHERE provider_message_id = $1 FOR UPDATE',
      [receipt.messageSid],
    );
    const n = rows[0];
    if (!n) {
      await client.query('ROLLBACK');
      return false;
    }
    // Our own states ('pending', 'retrying'…) are below every provider status.
    const current = n.status === 'pending' || n.status === 'suppressed' ? undefined : (n.status as MessageStatus);
    if (shouldUpdateStatus(current, receipt.status)) {
      await client.query(
        `UPDATE notifications SET status = $2, error_code = coalesce($3, error_code), updated_at = now() WHERE id = $1`,
        [n.id, receipt.status, receipt.errorCode ?? null],
      );
    }
    await client.query(
      `INSERT INTO notification_status_history (notification_id, status, error_code, source) VALUES ($1, $2, $3, 'callback')`,
      [n.id, receipt.status, receipt.errorCode ?? null],
    );
    await client.query('COMMIT');
    return true;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
