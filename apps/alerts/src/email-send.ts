/**
 * The e-mail sender: consumes the EMAIL queue (one job per notification row, from alert
 * flushes and from the API's report scheduler) and sends through SMTP_URL. Runs only where
 * SMTP_URL is set; elsewhere jobs wait in Redis for a process that has it. A temporary
 * failure (4xx, connection refused, timeout) is retried with back-off (EMAIL_BACKOFF_MS,
 * doubling, EMAIL_ATTEMPTS tries); a 5xx about the mailbox or message fails at once. Each
 * attempt is recorded in notification_status_history; the server's reply in `response`.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from '@spms/db';
import { classifySmtpError, createMailer, sendEmail } from '@spms/email';
import type { Logger } from '@spms/log';
import {
  createRedis,
  EMAIL_BACKOFF,
  EMAIL_QUEUE,
  EMAIL_SENDER_TTL_MS,
  type EmailJob,
  emailSenderKey,
} from '@spms/queue';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Transporter } from 'nodemailer';
import { countNotification } from './metrics.js';

export interface EmailSenderOptions {
  pool: Pool;
  redisUrl: string;
  prefix: string;
  smtpUrl: string | undefined;
  from: string;
  backoffMs: number;
  timeoutMs: number;
  concurrency: number;
  logger: Logger;
}

interface Row {
  email: string | null;
  subject: string | null;
  body: string;
  status: string;
  attachment: string | null;
  attachment_name: string | null;
}

// The record of an attempt: the row and its history in one statement.
const SENT = `
WITH u AS (UPDATE notifications SET provider = 'smtp', provider_message_id = $2, response = $3, status = 'sent',
            attempts = attempts + 1, sent_at = now(), updated_at = now(), error_code = NULL, error_message = NULL
            WHERE id = $1 AND status = 'pending' RETURNING id)
INSERT INTO notification_status_history (notification_id, status, source) SELECT id, 'sent', 'worker' FROM u`;
const FAILED = `
WITH u AS (UPDATE notifications SET attempts = attempts + 1, error_code = $2, error_message = $3, response = $3,
            status = CASE WHEN $4 THEN 'failed' ELSE status END, updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING id)
INSERT INTO notification_status_history (notification_id, status, error_code, source)
SELECT id, CASE WHEN $4 THEN 'failed' ELSE 'retrying' END, $2, 'worker' FROM u`;

export function handleEmail(pool: Pool, mailer: Transporter, from: string, logger: Logger) {
  return async (job: Job<EmailJob>) => {
    const id = job.data.notificationId;
    const { rows } = await pool.query<Row>(
      `SELECT n.email, n.subject, n.body, n.status, d.attachment, d.attachment_name
         FROM notifications n LEFT JOIN report_deliveries d ON d.notification_id = n.id
        WHERE n.id = $1 AND n.channel = 'email'`,
      [id],
    );
    const n = rows[0];
    // Sent already (a redelivered job), suppressed, or not an e-mail.
    if (n?.status !== 'pending') return;
    if (!n.email) {
      await pool.query(FAILED, [id, null, 'the recipient has no e-mail address', true]);
      countNotification('email', 'smtp', 'failed');
      throw new UnrecoverableError('no e-mail address');
    }
    try {
      const sent = await sendEmail(mailer, {
        from,
        to: n.email,
        subject: n.subject ?? 'SPMS',
        text: n.body,
        // The same id on every attempt: a receiving system can tell a resend from a new message.
        messageId: `<spms-notification-${id}@spms.local>`,
        ...(n.attachment && n.attachment_name
          ? {
              attachments: [
                { filename: n.attachment_name, content: n.attachment, contentType: 'text/csv; charset=utf-8' },
              ],
            }
          : {}),
      });
      await pool.query(SENT, [id, sent.messageId, sent.response.slice(0, 500)]);
      countNotification('email', 'smtp', 'sent');
    } catch (err) {
      const c = classifySmtpError(err);
      const attempts = job.opts.attempts ?? 1;
      const final = !c.retry || job.attemptsMade + 1 >= attempts;
      await pool.query(FAILED, [id, c.code, c.reason, final]);
      countNotification('email', 'smtp', final ? 'failed' : 'retrying');
      logger.warn(
        { notificationId: id, code: c.code, retry: c.retry, attempt: job.attemptsMade + 1 },
        'e-mail send failed',
      );
      if (!c.retry) throw new UnrecoverableError(c.reason);
      throw err;
    }
  };
}

export interface EmailSender {
  /** 'smtp' when this process sends e-mail, 'off' without SMTP_URL. */
  mode: 'smtp' | 'off';
  close(): Promise<void>;
}

/** Starts the EMAIL queue consumer (when SMTP_URL is set) and the heartbeat either way. */
export async function startEmailSender(o: EmailSenderOptions): Promise<EmailSender> {
  const redis = createRedis(o.redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', (err) => o.logger.warn({ err: err.message }, 'redis connection error (e-mail)'));
  let worker: Worker<EmailJob> | undefined;
  let mailer: Transporter | undefined;
  if (o.smtpUrl) {
    mailer = createMailer(o.smtpUrl, { timeoutMs: o.timeoutMs });
    worker = new Worker<EmailJob>(EMAIL_QUEUE, handleEmail(o.pool, mailer, o.from, o.logger), {
      connection: createRedis(o.redisUrl, { maxRetriesPerRequest: null }),
      prefix: o.prefix,
      concurrency: o.concurrency,
      stalledInterval: 5000,
      maxStalledCount: 5,
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string) =>
          type === EMAIL_BACKOFF ? o.backoffMs * 2 ** Math.max(0, attemptsMade - 1) : o.backoffMs,
      },
    });
    worker.on('error', (err) => o.logger.warn({ err: err.message }, 'e-mail worker error'));
    await worker.waitUntilReady();
  }
  const mode = o.smtpUrl ? 'smtp' : 'off';
  const key = emailSenderKey(o.prefix, `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`);
  const beat = () =>
    redis
      .set(key, JSON.stringify({ mode, at: Date.now() }), 'PX', EMAIL_SENDER_TTL_MS)
      .catch((err: unknown) => o.logger.warn({ err }, 'could not record the e-mail heartbeat'));
  await beat();
  const timer = setInterval(beat, EMAIL_SENDER_TTL_MS / 3);
  timer.unref();
  o.logger.info({ mode }, mode === 'smtp' ? 'e-mail sender started' : 'e-mail off (SMTP_URL not set)');
  return {
    mode,
    async close() {
      clearInterval(timer);
      await redis.del(key).catch(() => {});
      if (worker) {
        await worker.close();
        await (worker.opts.connection as Redis).quit().catch(() => {});
      }
      mailer?.close();
      redis.disconnect();
    },
  };
}
