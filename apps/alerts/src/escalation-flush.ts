/**
 * Escalation inside the existing text path: what a grouping window's flush does with
 * escalation items (pending items whose details carry `escalation: <tier>`), what the cap's
 * overflow summary says about them, and the restoration text for people an escalation told.
 */
import { groupKeyOf, type ItemKind, isQuietTime } from '@spms/alerting';
import type { PoolClient } from '@spms/db';
import type { AlertsContext } from './context.js';
import { recordSuppressed, type WindowRef } from './fan-out.js';

interface TakenItem {
  alert_id: string;
  kind: ItemKind;
  details: Record<string, unknown>;
}

const RESTORES: ItemKind[] = ['restoration', 'device_online'];

/**
 * An escalation item whose alert was acknowledged while it waited in the window is not
 * texted (acknowledgement stops the escalation), nor is that alert's restoration in the same
 * window (the person never heard of it). Recorded as a step. Cleared alerts need nothing
 * here: their restoration item is in the same window and composeTexts drops the pair.
 */
export async function dropAcknowledgedEscalations<T extends TakenItem>(
  client: PoolClient,
  recipientId: string,
  rows: T[],
): Promise<T[]> {
  const escalated = rows.filter((r) => typeof r.details.escalation === 'number');
  if (escalated.length === 0) return rows;
  const { rows: acked } = await client.query<{ id: string }>(
    `SELECT id::text FROM alerts WHERE id = ANY($1::bigint[]) AND acknowledged_at IS NOT NULL AND cleared_at IS NULL`,
    [escalated.map((r) => r.alert_id)],
  );
  if (acked.length === 0) return rows;
  const drop = new Set(acked.map((a) => a.id));
  for (const r of escalated.filter((x) => drop.has(x.alert_id)))
    await client.query(
      `INSERT INTO alert_escalations (alert_id, tier, recipient_id, recipient_name, outcome)
       SELECT $1, $2, id, name, 'acknowledged' FROM alert_recipients WHERE id = $3`,
      [r.alert_id, r.details.escalation, recipientId],
    );
  return rows.filter(
    (r) => !(drop.has(r.alert_id) && (typeof r.details.escalation === 'number' || RESTORES.includes(r.kind))),
  );
}

const cappedKey = (ctx: AlertsContext, recipientId: string, windowStart: number) =>
  `${ctx.prefix}:alerts:cap-esc:${recipientId}:${windowStart}`;

/** A capped text that carried an escalation: counted for the overflow summary. */
export async function countCappedEscalation(
  ctx: AlertsContext,
  recipientId: string,
  windowStart: number,
  rows: TakenItem[],
  alertIds: string[],
): Promise<void> {
  const ids = new Set(alertIds);
  if (!rows.some((r) => ids.has(r.alert_id) && typeof r.details.escalation === 'number')) return;
  const key = cappedKey(ctx, recipientId, windowStart);
  await ctx.redis
    .multi()
    .incr(key)
    .pexpire(key, 2 * ctx.config.ALERT_CAP_WINDOW_MS)
    .exec();
}

/** The overflow summary's words about escalations ('' when none were held back). */
export async function cappedEscalationsNote(ctx: AlertsContext, recipientId: string, windowStart: number) {
  const n = Number(await ctx.redis.get(cappedKey(ctx, recipientId, windowStart))) || 0;
  return n === 0 ? '' : `, ${n} of them escalation${n === 1 ? '' : 's'} (unacknowledged)`;
}

/**
 * Inside the restoration's transaction: people an escalation told about the alert (and whose
 * text was not dropped) hear that it is over too, whatever they subscribe to. Quiet hours
 * apply as for any restoration. `toldAbout` widens whose escalations count: a flapping line
 * that settles restores its latest outage, and the people told about an earlier outage of the
 * line (whose restoration the flapping held) hear it too (flapping.ts).
 */
export async function restoreEscalated(
  ctx: AlertsContext,
  client: PoolClient,
  item: {
    alertId: string;
    kind: 'restoration' | 'device_online';
    critical: boolean;
    subject: Parameters<typeof groupKeyOf>[0];
    toldAbout?: string[];
  },
  now = new Date(),
): Promise<WindowRef[]> {
  const { rows } = await client.query<{
    id: string;
    phone: string | null;
    quiet_start: string | null;
    quiet_end: string | null;
    time_zone: string | null;
  }>(
    `SELECT DISTINCT r.id::text, r.phone, r.quiet_start, r.quiet_end, r.time_zone
       FROM (SELECT DISTINCT ON (alert_id, recipient_id) recipient_id, outcome FROM alert_escalations
              WHERE alert_id = ANY($1::bigint[]) AND recipient_id IS NOT NULL ORDER BY alert_id, recipient_id, id DESC) s
       JOIN alert_recipients r ON r.id = s.recipient_id
      WHERE s.outcome = 'notified' AND r.enabled`,
    [[...new Set([item.alertId, ...(item.toldAbout ?? [])])]],
  );
  const take: string[] = [];
  for (const r of rows) {
    const quiet =
      !item.critical &&
      r.quiet_start &&
      r.quiet_end &&
      isQuietTime({ start: r.quiet_start, end: r.quiet_end }, now, r.time_zone ?? ctx.config.SPMS_TIME_ZONE);
    if (quiet) await recordSuppressed(client, r.id, r.phone ?? '', item, 'quiet_hours');
    else take.push(r.id);
  }
  if (take.length === 0) return [];
  const groupKey = groupKeyOf(item.subject);
  const ins = await client.query<{ recipient_id: string }>(
    `INSERT INTO alert_pending (recipient_id, group_key, alert_id, kind, critical, details)
     SELECT r, $2, $3, $4, $5, '{}' FROM unnest($1::uuid[]) AS r
     ON CONFLICT DO NOTHING RETURNING recipient_id::text`,
    [take, groupKey, item.alertId, item.kind, item.critical],
  );
  return ins.rows.map((r) => ({ recipientId: r.recipient_id, groupKey }));
}
