/**
 * Flapping per line: state changes (outage opened/closed) are kept in a Redis sorted set
 * (member = event id, so a redelivered event counts once); the hysteresis decision is
 * @spms/alerting's decideFlapping; the state itself is a row of alert_line_flapping, changed
 * with a guarded UPDATE so only one worker announces it.
 */
import { decideFlapping, type FlapOptions } from '@spms/alerting';
import type { DomainEvent } from '@spms/contracts';
import { type FlapCheckJob, jobId } from '@spms/contracts';
import { withTransaction } from '@spms/db';
import type { AlertsContext } from './context.js';
import { restoreEscalated } from './escalation-flush.js';
import { ensureTimers, fanOut, type WindowRef } from './fan-out.js';
import { notifyAlert } from './notify.js';
import { type AlertRow, type DeviceContext, loadDevice } from './store.js';

const flapKey = (prefix: string, deviceId: string, line: number) => `${prefix}:alerts:flap:${deviceId}:${line}`;

function options(ctx: AlertsContext): FlapOptions {
  const c = ctx.config;
  return {
    enterAt: c.ALERT_FLAP_THRESHOLD,
    leaveBelow: c.ALERT_FLAP_CLEAR_BELOW,
    windowMs: c.ALERT_FLAP_WINDOW_MS,
    quietMs: c.ALERT_FLAP_QUIET_MS,
  };
}

async function transitions(ctx: AlertsContext, deviceId: string, line: number, add?: DomainEvent): Promise<number[]> {
  const key = flapKey(ctx.prefix, deviceId, line);
  const windowMs = ctx.config.ALERT_FLAP_WINDOW_MS;
  const m = ctx.redis.multi();
  if (add) m.zadd(key, add.occurredAt, add.id);
  m.zremrangebyscore(key, '-inf', Date.now() - 2 * windowMs);
  m.pexpire(key, 2 * windowMs);
  m.zrange(key, 0, -1, 'WITHSCORES');
  const res = await m.exec();
  const flat = (res?.at(-1)?.[1] ?? []) as string[];
  return flat.filter((_, i) => i % 2 === 1).map(Number);
}

export async function isFlapping(ctx: AlertsContext, deviceId: string, line: number | null): Promise<boolean> {
  if (line === null) return false;
  const { rows } = await ctx.pool.query<{ flapping: boolean }>(
    'SELECT flapping FROM alert_line_flapping WHERE device_id = $1 AND line = $2',
    [deviceId, line],
  );
  return rows[0]?.flapping === true;
}

/** Counts one state change of a line; may start flapping and send the one notice. */
export async function recordTransition(
  ctx: AlertsContext,
  e: DomainEvent,
  device: DeviceContext,
  alert: AlertRow,
): Promise<void> {
  const line = alert.line;
  if (line === null) return;
  const times = await transitions(ctx, device.deviceId, line, e);
  const now = Date.now();
  const o = options(ctx);
  // Below the entry threshold nothing can start; a line already flapping is watched by its
  // own self-renewing check job, so the common case costs no query.
  if (times.filter((t) => t > now - o.windowMs).length < o.enterAt) return;
  const flapping = await isFlapping(ctx, device.deviceId, line);
  const d = decideFlapping(flapping, times, now, o);
  if (d === 'none') return;
  const check: FlapCheckJob = { deviceId: device.deviceId, line };
  await ctx.timers.add('flap-check', check, { jobId: jobId('flapcheck', e.id), delay: o.quietMs + 50 });
  if (d !== 'enter') return;
  const windows = await withTransaction(ctx.pool, async (client): Promise<WindowRef[] | undefined> => {
    const won = await client.query(
      `INSERT INTO alert_line_flapping (device_id, line, flapping, changed_at) VALUES ($1, $2, true, now())
       ON CONFLICT (device_id, line) DO UPDATE SET flapping = true, changed_at = now()
        WHERE NOT alert_line_flapping.flapping`,
      [device.deviceId, line],
    );
    if ((won.rowCount ?? 0) === 0) return undefined;
    ctx.logger.info({ deviceId: device.deviceId, line, changes: times.length }, 'line is flapping: alerts held');
    return fanOut(ctx, client, {
      alertId: alert.id,
      kind: 'flapping',
      subscription: 'outage',
      subject: { deviceId: device.deviceId, line, region: device.region, customer: device.customer },
      critical: false,
      details: { changes: times.filter((t) => t > now - o.windowMs).length, windowMs: o.windowMs },
    });
  });
  await ensureTimers(ctx, [alert.id], windows);
}

/** Timer: has the line settled? On leaving, the held alert of a still-open outage goes out. */
export async function checkFlapping(ctx: AlertsContext, job: FlapCheckJob): Promise<void> {
  const times = await transitions(ctx, job.deviceId, job.line);
  const now = Date.now();
  const d = decideFlapping(true, times, now, options(ctx));
  if (d === 'stay') {
    if (!(await isFlapping(ctx, job.deviceId, job.line))) return;
    await ctx.timers.add('flap-check', job, {
      jobId: jobId('flapcheck', job.deviceId, job.line, now),
      delay: Math.max(1000, ctx.config.ALERT_FLAP_QUIET_MS),
    });
    return;
  }
  const left = await ctx.pool.query(
    `UPDATE alert_line_flapping SET flapping = false, changed_at = now()
      WHERE device_id = $1 AND line = $2 AND flapping`,
    [job.deviceId, job.line],
  );
  if ((left.rowCount ?? 0) === 0) return;
  ctx.logger.info({ deviceId: job.deviceId, line: job.line }, 'line settled: no longer flapping');
  const { rows } = await ctx.pool.query<{ id: string }>(
    `SELECT id::text FROM alerts WHERE device_id = $1 AND line = $2 AND type = 'outage'
        AND cleared_at IS NULL AND NOT voided AND notified_at IS NULL`,
    [job.deviceId, job.line],
  );
  for (const r of rows) await notifyAlert(ctx, r.id);
  if (rows.length === 0) await restoreSettled(ctx, job.deviceId, job.line);
}

/**
 * The line settled with power on: the people told it was flapping (its restorations were
 * held meanwhile) hear that it is back, once. The text is the restoration of the line's
 * latest outage (its duration and end are exact); guarded like every restoration. People an
 * escalation told about an outage of the line whose restoration the flapping held hear the
 * same text (they may subscribe to nothing), and those outages count as restored: a
 * redelivered close of one of them later finds its restoration told.
 */
async function restoreSettled(ctx: AlertsContext, deviceId: string, line: number): Promise<void> {
  const device = await loadDevice(ctx.pool, deviceId, line);
  if (!device) return;
  const settled = await withTransaction(ctx.pool, async (client) => {
    const held = await client.query<{ id: string }>(
      `SELECT id::text FROM alerts WHERE device_id = $1 AND line = $2 AND type = 'outage' AND NOT voided
          AND notified_at IS NOT NULL AND cleared_at IS NOT NULL AND restoration_notified_at IS NULL`,
      [deviceId, line],
    );
    const { rows } = await client.query<AlertRow>(
      `UPDATE alerts SET restoration_notified_at = now(), updated_at = now()
        WHERE id = (SELECT id FROM alerts WHERE device_id = $1 AND line = $2 AND type = 'outage' AND NOT voided
                     ORDER BY started_at DESC LIMIT 1)
          AND cleared_at IS NOT NULL AND restoration_notified_at IS NULL
       RETURNING id::text, severity, region, customer`,
      [deviceId, line],
    );
    const alert = rows[0];
    if (!alert) return undefined;
    const subject = { deviceId, line, region: alert.region, customer: alert.customer };
    const critical = alert.severity === 'critical';
    const windows = await fanOut(ctx, client, {
      alertId: alert.id,
      kind: 'restoration',
      subscription: 'restoration',
      subject,
      critical,
    });
    const toldAbout = held.rows.map((r) => r.id).filter((id) => id !== alert.id);
    if (toldAbout.length > 0)
      await client.query(
        'UPDATE alerts SET restoration_notified_at = now(), updated_at = now() WHERE id = ANY($1::bigint[])',
        [toldAbout],
      );
    const escalated = await restoreEscalated(ctx, client, {
      alertId: alert.id,
      kind: 'restoration',
      critical,
      subject,
      toldAbout,
    });
    return { alertId: alert.id, windows: [...windows, ...escalated] };
  });
  if (settled) await ensureTimers(ctx, [settled.alertId], settled.windows);
}
