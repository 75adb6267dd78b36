/**
 * Records a delivery receipt against its notification, for every provider (Twilio's status
 * callback in the API, SMPP receipts in the worker): the same states, the same columns, the
 * same history. Receipts arrive out of order and may repeat: the status only moves forward
 * (shouldUpdateStatus) and each distinct receipt (status + error code) is kept once in the
 * history. The row lock serialises concurrent receipts for one message.
 */
import { type MessageStatus, shouldUpdateStatus } from './receipts.js';
import type { SqlPool } from './reply-handler.js';

export interface DeliveryReceipt {
  /** Provider message ids to look for (an SMPP id may come back in another base: messageIdVariants). */
  messageIds: string[];
  status: MessageStatus;
  errorCode?: number;
}

/** false when no notification has that message id (yet: a receipt can beat the send's own update). */
export async function recordDeliveryReceipt(pool: SqlPool, receipt: DeliveryReceipt): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query(
      'SELECT id::text, status FROM notifications WHERE provider_message_id = ANY($1::text[]) ORDER BY id LIMIT 1 FOR UPDATE',
      [receipt.messageIds],
    );
    const n = rows[0] as { id: string; status: string } | undefined;
    if (!n) {
      await client.query('ROLLBACK');
      return false;
    }
    // Our own states ('pending', 'retrying'…) are below every provider status.
    const current = n.status === 'pending' || n.status === 'suppressed' ? undefined : (n.status as MessageStatus);
    if (shouldUpdateStatus(current, receipt.status)) {
      await client.query(
        'UPDATE notifications SET status = $2, error_code = coalesce($3, error_code), updated_at = now() WHERE id = $1',
        [n.id, receipt.status, receipt.errorCode ?? null],
      );
    }
    await client.query(
      `INSERT INTO notification_status_history (notification_id, status, error_code, source)
       SELECT $1::bigint, $2::text, $3::int, 'callback'
        WHERE NOT EXISTS (SELECT 1 FROM notification_status_history
                           WHERE notification_id = $1 AND source = 'callback' AND status = $2
                             AND error_code IS NOT DISTINCT FROM $3)`,
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
