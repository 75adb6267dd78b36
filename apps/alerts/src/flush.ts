/**
 * End of a recipient's grouping window: takes the window's items (DELETE … RETURNING, in the
 * same transaction as the notifications it creates, so each item is in exactly one text),
 * composes the texts, applies the per-recipient cap, and enqueues one send job each.
 */
import { capWindowStart, composeTexts, decideCap, type ItemKind, type PendingItem } from '@spms/alerting';
import { type FlushJob, jobId, type OverflowJob, type SendJob } from '@spms/contracts';
import { type PoolClient, withTransaction } from '@spms/db';
import { enqueueEmails } from '@spms/queue';
import { formatDuration } from '@spms/sms';
import type { Job } from 'bullmq';
import type { AlertsContext } from './context.js';
import { insertAlertEmail, overflowEmail, queueFor } from './email-notify.js';
import { cappedEscalationsNote, countCappedEscalation, dropAcknowledgedEscalations } from './escalation-flush.js';
import { closeWindow } from './fan-out.js';

interface TakenRow {
  alert_id: string;
  kind: ItemKind;
  details: Record<string, unknown>;
  site: string;
  line_label: string | null;
  region: string | null;
  started_at: Date;
  cleared_at: Date | null;
  voided: boolean;
  alert_details: Record<string, unknown>;
  phone: string | null;
  email: string | null;
  channel: 'sms' | 'email' | 'both';
}

const TAKE = `
WITH taken AS (
  DELETE FROM alert_pending WHERE recipient_id = $1 AND group_key = $2 RETURNING alert_id, kind, details)
SELECT t.alert_id::text, t.kind, t.details, coalesce(d.label, d.name) AS site, l.label AS line_label,
       a.region, a.started_at, a.cleared_at, a.voided, a.details AS alert_details, r.phone, r.email, r.channel
  FROM taken t JOIN alerts a ON a.id = t.alert_id JOIN devices d ON d.id = a.device_id
  JOIN alert_recipients r ON r.id = $1
  LEFT JOIN device_lines l ON l.device_id = a.device_id AND l.number = a.line`;

export const handleFlush = (ctx: AlertsContext) => async (job: Job<FlushJob>) => {
  const { recipientId, groupKey } = job.data;
  await closeWindow(ctx, job.data); // before taking items: see ensureTimers
  const sends: string[] = [];
  const emails: string[] = [];
  await withTransaction(ctx.pool, async (client) => {
    const taken = await client.query<TakenRow>(TAKE, [recipientId, groupKey]);
    const rows = await dropAcknowledgedEscalations(client, recipientId, taken.rows);
    const items: PendingItem[] = rows
      .filter((r) => !r.voided)
      .map((r) => ({
        kind: r.kind,
        alertId: r.alert_id,
        site: r.site,
        line: r.line_label ?? (r.alert_details.label as string | null) ?? null,
        region: r.region,
        since: r.started_at.getTime(),
        endedAt: r.cleared_at?.getTime() ?? null,
        voltage: (r.alert_details.voltage as 'under' | 'over' | null | undefined) ?? null,
        ...(typeof r.details.changes === 'number' ? { changes: r.details.changes } : {}),
        ...(typeof r.details.windowMs === 'number' ? { windowMs: r.details.windowMs } : {}),
        // Put there by an escalation tier: tier >= 2 texts say they are escalations (compose.ts).
        ...(typeof r.details.escalation === 'number' ? { escalation: r.details.escalation } : {}),
      }));
    const phone = rows[0]?.phone;
    const who = rows[0];
    const texts = who ? composeTexts(items, { timeZone: ctx.config.SPMS_TIME_ZONE }) : [];
    for (const t of texts) {
      const cap = await takeCap(ctx, recipientId);
      const status = cap === 'send' ? 'pending' : 'suppressed';
      const id =
        who?.channel === 'email'
          ? null
          : await insertNotification(client, {
              recipientId,
              phone: phone as string,
              kind: t.kind,
              body: t.body,
              status,
              reason: cap === 'send' ? null : 'cap',
              alertIds: t.alertIds,
            });
      const mailed =
        who && who.channel !== 'sms'
          ? await insertAlertEmail(ctx, client, {
              recipientId,
              email: who.email,
              text: t,
              items,
              status,
              reason: cap === 'send' ? null : 'cap',
            })
          : null;
      if (cap === 'send') queueFor(sends, id, emails, mailed);
      else
        await countCappedEscalation(
          ctx,
          recipientId,
          capWindowStart(Date.now(), ctx.config.ALERT_CAP_WINDOW_MS),
          rows,
          t.alertIds,
        );
      if (cap === 'overflow') await scheduleOverflow(ctx, recipientId);
    }
  });
  await enqueueSends(ctx, sends);
  await enqueueEmails(ctx.email, emails);
};

const capKey = (ctx: AlertsContext, recipientId: string, start: number) =>
  `${ctx.prefix}:alerts:cap:${recipientId}:${start}`;

async function takeCap(ctx: AlertsContext, recipientId: string) {
  const windowMs = ctx.config.ALERT_CAP_WINDOW_MS;
  const key = capKey(ctx, recipientId, capWindowStart(Date.now(), windowMs));
  const [[, n]] = (await ctx.redis
    .multi()
    .incr(key)
    .pexpire(key, 2 * windowMs)
    .exec()) as [[null, number]];
  return decideCap(n, ctx.config.ALERT_MAX_PER_HOUR);
}

async function scheduleOverflow(ctx: AlertsContext, recipientId: string): Promise<void> {
  const windowMs = ctx.config.ALERT_CAP_WINDOW_MS;
  const windowStart = capWindowStart(Date.now(), windowMs);
  const data: OverflowJob = { recipientId, windowStart };
  await ctx.timers.add('overflow', data, {
    jobId: jobId('overflow', recipientId, windowStart),
    delay: Math.max(0, windowStart + windowMs - Date.now()),
  });
}

/** End of a cap window that overflowed: one summary of what was not texted (not capped itself). */
export const handleOverflow = (ctx: AlertsContext) => async (job: Job<OverflowJob>) => {
  const { recipientId, windowStart } = job.data;
  const n = Number(await ctx.redis.get(capKey(ctx, recipientId, windowStart))) || 0;
  const held = n - ctx.config.ALERT_MAX_PER_HOUR;
  if (held <= 0) return;
  const { rows } = await ctx.pool.query<{ phone: string | null; email: string | null; channel: string }>(
    'SELECT phone, email, channel FROM alert_recipients WHERE id = $1',
    [recipientId],
  );
  if (!rows[0]) return;
  const per = formatDuration(ctx.config.ALERT_CAP_WINDOW_MS);
  const esc = await cappedEscalationsNote(ctx, recipientId, windowStart);
  const body = `SPMS: ${held} more alert${held === 1 ? '' : 's'} not texted${esc} (limit ${ctx.config.ALERT_MAX_PER_HOUR} per ${per}). See the dashboard.`;
  // A recipient on e-mail gets the same summary by e-mail (email-notify.ts).
  if (rows[0].channel !== 'sms') await overflowEmail(ctx, recipientId, rows[0].email, body, windowStart);
  if (!rows[0].phone || rows[0].channel === 'email') return;
  const client = await ctx.pool.connect();
  let id: string;
  try {
    // The job id is per window, but a retried job must not insert a second summary.
    const dup = await client.query<{ id: string }>(
      `SELECT id::text FROM notifications WHERE recipient_id = $1 AND channel = 'sms' AND kind = 'overflow' AND reason = $2`,
      [recipientId, `window:${windowStart}`],
    );
    id =
      dup.rows[0]?.id ??
      (await insertNotification(client, {
        recipientId,
        phone: rows[0].phone,
        kind: 'overflow',
        body,
        status: 'pending',
        reason: `window:${windowStart}`,
        alertIds: [],
      }));
  } finally {
    client.release();
  }
  await enqueueSends(ctx, [id]);
};

async function insertNotification(
  client: PoolClient,
  n: {
    recipientId: string;
    phone: string;
    kind: string;
    body: string;
    status: string;
    reason: string | null;
    alertIds: string[];
  },
): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO notifications (recipient_id, phone, kind, body, status, reason) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text`,
    [n.recipientId, n.phone, n.kind, n.body, n.status, n.reason],
  );
  const id = rows[0]?.id as string;
  if (n.alertIds.length > 0)
    await client.query(
      'INSERT INTO notification_alerts (notification_id, alert_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING',
      [id, n.alertIds],
    );
  await client.query(
    `INSERT INTO notification_status_history (notification_id, status, source) VALUES ($1, $2, 'worker')`,
    [id, n.status],
  );
  return id;
}

export async function enqueueSends(ctx: AlertsContext, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await ctx.sms.addBulk(
    ids.map((id) => ({
      name: 'send',
      data: { notificationId: id } satisfies SendJob,
      opts: { jobId: jobId('send', id) },
    })),
  );
}
