/**
 * The e-mail queue contract, shared by its producers (the worker's alert flushes, the API's
 * report scheduler) and its consumer (the worker's e-mail sender, which runs only where
 * SMTP_URL is set: without one, jobs wait in Redis until a sender starts).
 *
 * One job per notification row, with the job id derived from the row id: a producer that
 * enqueues again after a restart adds nothing, and the sender re-reads the row (only a
 * 'pending' one is sent), so a message is not sent twice by a redelivered job.
 */

import { EMAIL_QUEUE, type EmailJob } from '@spms/contracts';
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** Attempts per message; the back-off between them is the sender's (EMAIL_BACKOFF_MS, doubling). */
export const EMAIL_ATTEMPTS = 10;
/** Name of the sender's custom back-off strategy (BullMQ `settings.backoffStrategy`). */
export const EMAIL_BACKOFF = 'spms-email';

export const emailJobId = (notificationId: string) => `email-${notificationId}`;

export function emailJobOptions(notificationId: string): JobsOptions {
  return {
    jobId: emailJobId(notificationId),
    attempts: EMAIL_ATTEMPTS,
    backoff: { type: EMAIL_BACKOFF },
    removeOnComplete: { age: 24 * 3600, count: 50_000 },
    removeOnFail: { age: 14 * 24 * 3600 },
  };
}

export function createEmailQueue(connection: Redis, prefix: string): Queue<EmailJob> {
  return new Queue<EmailJob>(EMAIL_QUEUE, { connection, prefix });
}

export async function enqueueEmails(queue: Queue<EmailJob>, notificationIds: string[]): Promise<void> {
  if (notificationIds.length === 0) return;
  await queue.addBulk(
    notificationIds.map((id) => ({ name: 'send', data: { notificationId: id }, opts: emailJobOptions(id) })),
  );
}

/**
 * Heartbeat of each process that sends e-mail, like smsSenderKey: `{"mode":"smtp"|"off","at"}`
 * ('off': alerts run without SMTP_URL, so e-mail recipients are not mailed). The API reads
 * them for GET /api/system's `email.mode` and the recipients' warnings.
 */
export const EMAIL_SENDER_TTL_MS = 90_000;
export function emailSenderKey(prefix: string, sender: string): string {
  return `${prefix}:email:sender:${sender}`;
}
export function emailSenderPattern(prefix: string): string {
  return `${prefix}:email:sender:*`;
}
