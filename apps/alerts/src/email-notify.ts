/**
 * Alert e-mails at the end of a grouping window: for a recipient on the e-mail channel (or
 * both), each composed text also becomes an e-mail notification — the text as subject, every
 * item in the body in local time — under the same cap decision as the text (one message,
 * one count, whatever the channels). Without SMTP_URL the row is recorded as suppressed
 * ('email_off') so the recipient's history says why nothing arrived.
 */
import type { ComposedText, PendingItem } from '@spms/alerting';
import type { PoolClient } from '@spms/db';
import { composeAlertEmail } from '@spms/email';
import { enqueueEmails } from '@spms/queue';
import type { AlertsContext } from './context.js';

export interface AlertEmailInput {
  recipientId: string;
  email: string | null;
  text: Pick<ComposedText, 'kind' | 'body' | 'alertIds'>;
  items: PendingItem[];
  status: string;
  reason: string | null;
}

/** Inserts the e-mail notification; returns its id when it is to be sent (else null). */
export async function insertAlertEmail(
  ctx: AlertsContext,
  client: PoolClient,
  n: AlertEmailInput,
): Promise<string | null> {
  const covered = new Set(n.text.alertIds);
  const mail = composeAlertEmail(
    n.text.body,
    n.items.filter((i) => covered.has(i.alertId)),
    { timeZone: ctx.config.SPMS_TIME_ZONE },
  );
  const off = n.status === 'pending' && !ctx.emailOn;
  const status = off ? 'suppressed' : n.status;
  const reason = off ? 'email_off' : n.reason;
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO notifications (recipient_id, channel, email, subject, kind, body, status, reason)
     VALUES ($1, 'email', $2, $3, $4, $5, $6, $7) RETURNING id::text`,
    [n.recipientId, n.email, mail.subject, n.text.kind, mail.text, status, reason],
  );
  const id = rows[0]?.id as string;
  if (n.text.alertIds.length > 0)
    await client.query(
      'INSERT INTO notification_alerts (notification_id, alert_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING',
      [id, n.text.alertIds],
    );
  await client.query(
    `INSERT INTO notification_status_history (notification_id, status, source) VALUES ($1, $2, 'worker')`,
    [id, status],
  );
  return status === 'pending' ? id : null;
}

/** Sorts a message's rows into the SMS and e-mail send lists. */
export function queueFor(sms: string[], smsId: string | null, emails: string[], emailId: string | null): void {
  if (smsId) sms.push(smsId);
  if (emailId) emails.push(emailId);
}

/**
 * The cap's overflow summary for a recipient on e-mail: what was held back in the window,
 * once per window (a retried job finds its row), queued like any alert e-mail.
 */
export async function overflowEmail(
  ctx: AlertsContext,
  recipientId: string,
  email: string | null,
  smsBody: string,
  windowStart: number,
): Promise<void> {
  const reason = `window:${windowStart}`;
  const text = smsBody.replace(' not texted', ' not e-mailed');
  const off = !ctx.emailOn;
  const { rows } = await ctx.pool.query<{ id: string; status: string }>(
    `WITH ins AS (
       INSERT INTO notifications (recipient_id, channel, email, subject, kind, body, status, reason)
       SELECT $1, 'email', $2, $3, 'overflow', $3, $4, $5
        WHERE NOT EXISTS (SELECT 1 FROM notifications WHERE recipient_id = $1 AND channel = 'email' AND kind = 'overflow' AND reason = $5)
       RETURNING id, status)
     , h AS (INSERT INTO notification_status_history (notification_id, status, source) SELECT id, status, 'worker' FROM ins)
     SELECT id::text, status FROM ins
     UNION ALL
     SELECT id::text, status FROM notifications WHERE recipient_id = $1 AND channel = 'email' AND kind = 'overflow' AND reason = $5`,
    [recipientId, email, text, off ? 'suppressed' : 'pending', reason],
  );
  const ids = [...new Set(rows.filter((r) => r.status === 'pending').map((r) => r.id))];
  await enqueueEmails(ctx.email, ids);
}
