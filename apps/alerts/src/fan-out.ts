/**
 * Who gets told: matching recipients get a pending item in their grouping window (a row of
 * alert_pending, so the window survives restarts); quiet hours turn a non-critical item
 * into a recorded 'suppressed' notification. The window's timer is a Redis key plus one
 * delayed flush job per window (see ensureTimers).
 */
import { randomUUID } from 'node:crypto';
import {
  type AlertSubject,
  groupKeyOf,
  type ItemKind,
  isQuietTime,
  matchesRecipient,
  type NotifyKind,
  type RecipientRule,
} from '@spms/alerting';
import { type ALERT_TIMERS_QUEUE, type FlushJob, type JobSpec, jobId } from '@spms/contracts';
import type { PoolClient } from '@spms/db';
import type { JobsOptions } from 'bullmq';
import type { AlertsContext } from './context.js';

interface RecipientRow {
  id: string;
  phone: string;
  enabled: boolean;
  scope_kind: RecipientRule['scopeKind'];
  scope_value: string | null;
  scope_line: number | null;
  kinds: NotifyKind[];
  quiet_start: string | null;
  quiet_end: string | null;
  time_zone: string | null;
}

export interface FanOutItem {
  alertId: string;
  kind: ItemKind;
  /** Subscription kind it counts as (a voltage restoration is a 'voltage' text). */
  subscription: NotifyKind;
  subject: AlertSubject;
  critical: boolean;
  /** Extra facts for the text (flapping counts, restoration end time). */
  details?: Record<string, unknown>;
}

const toRule = (r: RecipientRow): RecipientRule => ({
  id: r.id,
  enabled: r.enabled,
  scopeKind: r.scope_kind,
  scopeValue: r.scope_value,
  scopeLine: r.scope_line,
  kinds: r.kinds,
  quietHours: r.quiet_start && r.quiet_end ? { start: r.quiet_start, end: r.quiet_end } : null,
  timeZone: r.time_zone,
});

export interface WindowRef {
  recipientId: string;
  groupKey: string;
}

// Recipients change rarely and a storm asks for them once per alert: a short-lived copy
// (an edit takes effect within RECIPIENTS_TTL_MS).
const RECIPIENTS_TTL_MS = 2000;
const recipientCache = new WeakMap<AlertsContext, { at: number; rows: Promise<RecipientRow[]> }>();

function recipients(ctx: AlertsContext): Promise<RecipientRow[]> {
  const hit = recipientCache.get(ctx);
  if (hit && Date.now() - hit.at < RECIPIENTS_TTL_MS) return hit.rows;
  const rows = ctx.pool
    .query<RecipientRow>(
      `SELECT id::text, phone, enabled, scope_kind, scope_value, scope_line, kinds, quiet_start, quiet_end, time_zone
         FROM alert_recipients WHERE enabled`,
    )
    .then((r) => r.rows);
  rows.catch(() => recipientCache.delete(ctx));
  recipientCache.set(ctx, { at: Date.now(), rows });
  return rows;
}

/**
 * Inside the caller's transaction (with the notified guard): items for every matching
 * recipient. Returns the windows that received an item (for ensureTimers).
 */
export async function fanOut(
  ctx: AlertsContext,
  client: PoolClient,
  item: FanOutItem,
  now = new Date(),
): Promise<WindowRef[]> {
  const groupKey = groupKeyOf(item.subject);
  const take: string[] = [];
  for (const r of await recipients(ctx)) {
    const rule = toRule(r);
    if (!matchesRecipient(rule, item.subject, item.subscription)) continue;
    const quiet = !item.critical && isQuietTime(rule.quietHours, now, rule.timeZone ?? ctx.config.SPMS_TIME_ZONE);
    if (quiet) await recordSuppressed(client, r.id, r.phone, item, 'quiet_hours');
    else take.push(r.id);
  }
  if (take.length === 0) return [];
  const { rows } = await client.query<{ recipient_id: string }>(
    `INSERT INTO alert_pending (recipient_id, group_key, alert_id, kind, critical, details)
     SELECT r, $2, $3, $4, $5, $6 FROM unnest($1::uuid[]) AS r
     ON CONFLICT DO NOTHING RETURNING recipient_id::text`,
    [take, groupKey, item.alertId, item.kind, item.critical, JSON.stringify(item.details ?? {})],
  );
  return rows.map((r) => ({ recipientId: r.recipient_id, groupKey }));
}

export async function recordSuppressed(
  client: PoolClient,
  recipientId: string,
  phone: string,
  item: Pick<FanOutItem, 'alertId' | 'kind'>,
  reason: string,
) {
  // One row per channel the recipient is on (an e-mail-only recipient has no phone).
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO notifications (recipient_id, channel, phone, email, kind, body, status, reason)
     SELECT r.id, c.ch, CASE WHEN c.ch = 'sms' THEN coalesce(r.phone, $2) END, CASE WHEN c.ch = 'email' THEN r.email END,
            $3, '', 'suppressed', $4
       FROM alert_recipients r,
            unnest(CASE r.channel WHEN 'both' THEN ARRAY['sms', 'email'] ELSE ARRAY[r.channel] END) AS c(ch)
      WHERE r.id = $1 RETURNING id::text`,
    [recipientId, phone, item.kind, reason],
  );
  await client.query('INSERT INTO notification_alerts (notification_id, alert_id) SELECT unnest($1::bigint[]), $2', [
    rows.map((r) => r.id),
    item.alertId,
  ]);
}

const groupTimerKey = (prefix: string, recipientId: string, groupKey: string) =>
  `${prefix}:alerts:window:${recipientId}:${groupKey}`;
/** Exists (with a TTL of the group interval) while a group's last text is recent. */
const lastFlushKey = (prefix: string, recipientId: string, groupKey: string) =>
  `${prefix}:alerts:flushed:${recipientId}:${groupKey}`;

/**
 * After COMMIT: makes sure every (recipient, group) holding items of these alerts has a
 * flush timer. The first item opens a window (SET NX) and schedules its flush; later items
 * join it. Ordering makes the hand-over safe: an item is inserted before the SET NX, and the
 * flush deletes the key before taking the items, so an item is either taken by a flush or
 * finds no key and opens the next window. Safe to call again (a retried job).
 */
export async function ensureTimers(ctx: AlertsContext, alertIds: string[], windows?: WindowRef[]): Promise<void> {
  let refs = windows;
  if (!refs) {
    // A retried job whose guard already passed: find its items' windows in the table.
    if (alertIds.length === 0) return;
    const { rows } = await ctx.pool.query<{ recipient_id: string; group_key: string }>(
      'SELECT DISTINCT recipient_id::text, group_key FROM alert_pending WHERE alert_id = ANY($1::bigint[])',
      [alertIds],
    );
    refs = rows.map((r) => ({ recipientId: r.recipient_id, groupKey: r.group_key }));
  }
  if (refs.length === 0) return;
  const wait = ctx.config.ALERT_GROUP_WINDOW_MS;
  const gens = refs.map(() => randomUUID());
  const pipe = ctx.redis.pipeline();
  // The TTL only matters if the flush job were lost: the key then expires and a new window opens.
  const ttl = wait + ctx.config.ALERT_GROUP_INTERVAL_MS + 300_000;
  refs.forEach((r, i) => {
    pipe.set(groupTimerKey(ctx.prefix, r.recipientId, r.groupKey), gens[i] as string, 'PX', ttl, 'NX');
    pipe.pttl(lastFlushKey(ctx.prefix, r.recipientId, r.groupKey));
  });
  const res = (await pipe.exec()) ?? [];
  const jobs = refs.flatMap((r, i): JobSpec<typeof ALERT_TIMERS_QUEUE, JobsOptions>[] => {
    if (res[2 * i]?.[1] !== 'OK') return [];
    // Alertmanager's group_wait / group_interval: the first window of a group waits
    // ALERT_GROUP_WINDOW_MS; one opened soon after a text waits out ALERT_GROUP_INTERVAL_MS
    // from that text, so a storm that keeps arriving is one text per interval.
    // PTTL of the mark: time left in the interval (negative when there is no mark).
    const untilNext = Number(res[2 * i + 1]?.[1] ?? -2);
    const delay = Math.max(wait, untilNext);
    const gen = gens[i] as string;
    const data: FlushJob = { recipientId: r.recipientId, groupKey: r.groupKey, gen };
    return [{ name: 'flush', data, opts: { jobId: jobId('flush', gen), delay } }];
  });
  if (jobs.length > 0) await ctx.timers.addBulk(jobs);
}

// Marks the group as just texted (for group_interval) BEFORE releasing the window, in one
// step: a window opened right after the release always sees the mark. Only the window `gen`
// is released, so a retried flush cannot close its successor.
const CLOSE = `
if tonumber(ARGV[2]) > 0 then redis.call('set', KEYS[2], '1', 'PX', ARGV[2]) end
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

export async function closeWindow(ctx: AlertsContext, job: FlushJob): Promise<void> {
  const { recipientId, groupKey, gen } = job;
  await ctx.redis.eval(
    CLOSE,
    2,
    groupTimerKey(ctx.prefix, recipientId, groupKey),
    lastFlushKey(ctx.prefix, recipientId, groupKey),
    gen,
    String(ctx.config.ALERT_GROUP_INTERVAL_MS),
  );
}
