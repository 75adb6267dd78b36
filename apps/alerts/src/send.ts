/**
 * Sends one notification. Retries (BullMQ attempts + exponential back-off) on what
 * classifyTwilioError calls transient (429, 5xx, network); a permanent error (invalid
 * number, opted out…) is recorded with Twilio's code and ends the job (UnrecoverableError).
 * When recipients can answer (a numeric sender) and the number already has another open
 * text, a text about open alerts gets a short code ('Reply ACK 123') before its first
 * attempt, if it still fits one segment.
 */

import type { SendJob } from '@spms/contracts';
import { ACKNOWLEDGEABLE_KINDS, classifyTwilioError, pickReplyCode, withReplyCode } from '@spms/sms';
import { type Job, UnrecoverableError } from 'bullmq';
import type { AlertsContext } from './context.js';
import { countNotification } from './metrics.js';

export const handleSend = (ctx: AlertsContext) => async (job: Job<SendJob>) => {
  const id = job.data.notificationId;
  const { rows } = await ctx.pool.query<{
    phone: string;
    body: string;
    kind: string;
    status: string;
    provider_message_id: string | null;
    reply_code: string | null;
  }>('SELECT phone, body, kind, status, provider_message_id, reply_code FROM notifications WHERE id = $1', [id]);
  const n = rows[0];
  // Already sent (a redelivered job) or not meant to be sent.
  if (!n || n.provider_message_id || n.status !== 'pending') return;
  try {
    const body =
      ctx.provider.acceptsReplies && !n.reply_code && ACKNOWLEDGEABLE_KINDS.has(n.kind)
        ? await addReplyCode(ctx, id, n.phone, n.body)
        : n.body;
    const sent = await ctx.provider.send({ to: n.phone, body });
    await ctx.pool.query(
      `WITH u AS (UPDATE notifications SET provider = $2, provider_message_id = $3, status = $4, segments = $5,
                  attempts = attempts + 1, sent_at = now(), updated_at = now(), error_code = NULL, error_message = NULL
                  WHERE id = $1 AND status = 'pending' RETURNING id)
       INSERT INTO notification_status_history (notification_id, status, source) SELECT id, $4, 'worker' FROM u`,
      [id, sent.provider, sent.id, sent.status, sent.segments],
    );
    countNotification('sms', ctx.provider.name, 'sent');
  } catch (err) {
    const c = classifyTwilioError(err);
    const attempts = job.opts.attempts ?? 1;
    const final = !c.retry || job.attemptsMade + 1 >= attempts;
    await ctx.pool.query(
      `WITH u AS (UPDATE notifications SET attempts = attempts + 1, error_code = $2, error_message = $3,
                  status = CASE WHEN $4 THEN 'failed' ELSE status END, updated_at = now() WHERE id = $1 RETURNING id)
       INSERT INTO notification_status_history (notification_id, status, error_code, source)
       SELECT id, CASE WHEN $4 THEN 'failed' ELSE 'retrying' END, $2, 'worker' FROM u`,
      [id, c.code ?? c.status ?? null, c.reason, final],
    );
    countNotification('sms', ctx.provider.name, final ? 'failed' : 'retrying');
    ctx.logger.warn(
      { notificationId: id, code: c.code, retry: c.retry, attempt: job.attemptsMade + 1 },
      'SMS send failed',
    );
    if (!c.retry) throw new UnrecoverableError(c.reason);
    throw err;
  }
};

/**
 * A code is needed only when this number has another open text (one with an unacknowledged
 * alert): a lone text is answered with a plain ACK. The code is one no other recent text to
 * this number has, stored with the text (the body as sent) so `ACK <code>` names it.
 */
async function addReplyCode(ctx: AlertsContext, id: string, phone: string, body: string): Promise<string> {
  const open = (notification: string) =>
    `EXISTS (SELECT 1 FROM notification_alerts na JOIN alerts a ON a.id = na.alert_id
              WHERE na.notification_id = ${notification} AND a.acknowledged_at IS NULL AND NOT a.voided)`;
  const { rows } = await ctx.pool.query<{ needed: boolean; codes: string[] }>(
    `SELECT ${open('$1')} AND EXISTS (
              SELECT 1 FROM notifications o WHERE o.phone = $2 AND o.id <> $1
                 AND o.status NOT IN ('suppressed', 'failed', 'undelivered', 'canceled')
                 AND o.created_at > now() - interval '7 days' AND ${open('o.id')}) AS needed,
            coalesce((SELECT array_agg(reply_code) FROM notifications
                       WHERE phone = $2 AND reply_code IS NOT NULL AND created_at > now() - interval '7 days'), '{}') AS codes`,
    [id, phone],
  );
  if (!rows[0]?.needed) return body;
  const code = pickReplyCode(Number(id), new Set(rows[0].codes));
  const coded = withReplyCode(body, code);
  if (!coded) return body;
  // Set once: a concurrent run of the same job keeps the first code, and sends that body.
  const u = await ctx.pool.query<{ body: string }>(
    `UPDATE notifications SET body = CASE WHEN reply_code IS NULL THEN $2 ELSE body END,
            reply_code = coalesce(reply_code, $3), updated_at = now()
      WHERE id = $1 RETURNING body`,
    [id, coded, code],
  );
  return u.rows[0]?.body ?? body;
}
