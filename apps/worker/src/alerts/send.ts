/**
 * Sends one notification. Retries (BullMQ attempts + exponential back-off) on what
 * classifyTwilioError calls transient (429, 5xx, network); a permanent error (invalid
 * number, opted out…) is recorded with Twilio's code and ends the job (UnrecoverableError).
 */
import { classifyTwilioError } from '@spms/sms';
import { type Job, UnrecoverableError } from 'bullmq';
import type { AlertsContext, SendJob } from './context.js';

export const handleSend = (ctx: AlertsContext) => async (job: Job<SendJob>) => {
  const id = job.data.notificationId;
  const { rows } = await ctx.pool.query<{
    phone: string;
    body: string;
    status: string;
    provider_message_id: string | null;
  }>('SELECT phone, body, status, provider_message_id FROM notifications WHERE id = $1', [id]);
  const n = rows[0];
  // Already sent (a redelivered job) or not meant to be sent.
  if (!n || n.provider_message_id || n.status !== 'pending') return;
  try {
    const sent = await ctx.provider.send({ to: n.phone, body: n.body });
    await ctx.pool.query(
      `WITH u AS (UPDATE notifications SET provider = $2, provider_message_id = $3, status = $4, segments = $5,
                  attempts = attempts + 1, sent_at = now(), updated_at = now(), error_code = NULL, error_message = NULL
                  WHERE id = $1 AND status = 'pending' RETURNING id)
       INSERT INTO notification_status_history (notification_id, status, source) SELECT id, $4, 'worker' FROM u`,
      [id, sent.provider, sent.id, sent.status, sent.segments],
    );
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
    ctx.logger.warn(
      { notificationId: id, code: c.code, retry: c.retry, attempt: job.attemptsMade + 1 },
      'SMS send failed',
    );
    if (!c.retry) throw new UnrecoverableError(c.reason);
    throw err;
  }
};
