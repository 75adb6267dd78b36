/**
 * Scheduled reliability reports. Every API process runs this loop (every
 * REPORT_CHECK_INTERVAL_MS and once at start): for each enabled subscription it works out the
 * periods owed on the local calendar of SPMS_TIME_ZONE (the last month after local midnight
 * on the 1st, the last week after local midnight on Monday; only periods that ended after the
 * subscription was created, so a period missed while nothing ran is sent on start, once).
 *
 * Exactly once, however many processes run: the report is claimed by inserting its
 * report_deliveries row (primary key: subscription + period) in the transaction that also
 * writes the e-mail's notification row. A second process's INSERT waits for the first to
 * commit and then finds the row (ON CONFLICT DO NOTHING): it sends nothing. The e-mail job's
 * id is the notification's (one job whoever enqueues it again), and the sender sends only a
 * 'pending' row. The loop runs in the API because the figures must be the API's own report.
 */
import { type Pool, Rollback, withTransaction } from '@spms/db';
import { duePeriods, type ReportPeriod } from '@spms/email';
import type { Logger } from '@spms/log';
import { createEmailQueue, enqueueEmails } from '@spms/queue';
import type { Redis } from 'ioredis';
import { buildReport, type SubscriptionRow } from './compose.js';

export interface ReportSchedulerOptions {
  pg: Pool;
  redis: Redis;
  prefix: string;
  timeZone: string;
  intervalMs: number;
  logger: Logger;
}

export interface ReportScheduler {
  /** One pass at `now` (tests pass a clock); resolves to the periods this process sent. */
  runOnce(now?: number): Promise<string[]>;
  close(): Promise<void>;
}

const DUE = `
SELECT s.id::text, s.recipient_id::text, r.email, s.scope_kind, s.scope_value, s.monthly, s.weekly, s.worst_sites, s.created_at
  FROM report_subscriptions s JOIN alert_recipients r ON r.id = s.recipient_id
 WHERE s.enabled AND r.enabled AND r.email IS NOT NULL`;

export function startReportScheduler(o: ReportSchedulerOptions): ReportScheduler {
  const queue = createEmailQueue(o.redis, o.prefix);
  const log = o.logger.child({ component: 'report-schedule' });

  async function claim(sub: SubscriptionRow, period: ReportPeriod): Promise<string | null> {
    const done = await o.pg.query('SELECT 1 FROM report_deliveries WHERE subscription_id = $1 AND period = $2', [
      sub.id,
      period.key,
    ]);
    if (done.rows[0]) return null;
    const report = await buildReport(o.pg, sub, period, o.timeZone);
    return withTransaction(o.pg, async (client) => {
      const claimed = await client.query(
        `INSERT INTO report_deliveries (subscription_id, period, period_start, period_end, attachment_name, attachment)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING period`,
        [sub.id, period.key, new Date(period.from), new Date(period.to), report.attachmentName, report.attachment],
      );
      if (!claimed.rows[0]) throw new Rollback(null); // another process sent it
      const { rows } = await client.query<{ id: string }>(
        `INSERT INTO notifications (recipient_id, channel, email, subject, kind, body, status, reason)
         VALUES ($1, 'email', $2, $3, 'report', $4, 'pending', $5) RETURNING id::text`,
        [sub.recipient_id, sub.email, report.email.subject, report.email.text, period.key],
      );
      const id = rows[0]?.id as string;
      await client.query(
        'UPDATE report_deliveries SET notification_id = $3 WHERE subscription_id = $1 AND period = $2',
        [sub.id, period.key, id],
      );
      await client.query(
        `INSERT INTO notification_status_history (notification_id, status, source) VALUES ($1, 'pending', 'worker')`,
        [id],
      );
      return id;
    });
  }

  async function runOnce(now = Date.now()): Promise<string[]> {
    const { rows } = await o.pg.query<SubscriptionRow>(DUE);
    const sent: string[] = [];
    const ids: string[] = [];
    for (const sub of rows) {
      for (const period of duePeriods({ ...sub, createdAt: sub.created_at.getTime() }, now, o.timeZone)) {
        try {
          const id = await claim(sub, period);
          if (!id) continue;
          ids.push(id);
          sent.push(`${sub.id}/${period.key}`);
          log.info({ subscription: sub.id, period: period.key, notificationId: id }, 'report e-mail queued');
        } catch (err) {
          log.warn({ subscription: sub.id, period: period.key, err }, 'report not built; next pass retries');
        }
      }
    }
    // A process that died between its COMMIT and the enqueue left a pending row without a job.
    const stranded = await o.pg.query<{ id: string }>(
      `SELECT n.id::text FROM report_deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE n.status = 'pending' AND n.attempts = 0 AND n.created_at < now() - interval '1 minute'`,
    );
    await enqueueEmails(queue, [...ids, ...stranded.rows.map((r) => r.id)]);
    return sent;
  }

  let running: Promise<unknown> = Promise.resolve();
  let closed = false;
  const tick = () => {
    // One pass at a time per process; a slow pass delays the next instead of overlapping it.
    running = running
      .then(() => (closed ? [] : runOnce()))
      .catch((err: unknown) => log.warn({ err }, 'report schedule pass failed'));
  };
  const timer = o.intervalMs > 0 ? setInterval(tick, o.intervalMs) : undefined;
  timer?.unref();
  if (o.intervalMs > 0) tick();
  return {
    runOnce: (now) => {
      const p = running.then(() => runOnce(now));
      running = p.catch(() => {});
      return p;
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await running;
      await queue.close();
    },
  };
}
