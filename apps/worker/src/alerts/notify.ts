/** Telling people about an alert (the debounce timer firing, or a held alert released). */
import type { Job } from 'bullmq';
import type { AlertsContext, DebounceJob } from './context.js';
import { ensureTimers, fanOut } from './fan-out.js';
import { isFlapping } from './flapping.js';
import { getAlert, markNotified } from './store.js';

/** Re-checks the database at fire time: only a condition still open is texted, once. */
export async function notifyAlert(ctx: AlertsContext, alertId: string): Promise<void> {
  const alert = await getAlert(ctx.pool, alertId);
  if (!alert || alert.cleared_at || alert.voided || alert.notified_at) return; // momentary, or done
  if (alert.type === 'outage' && (await isFlapping(ctx, alert.device_id, alert.line))) {
    await ctx.pool.query('UPDATE alerts SET held = true, updated_at = now() WHERE id = $1', [alertId]);
    return;
  }
  if (alert.type === 'outage' && !(await outageStillOpen(ctx, alert.device_id, alert.line, alert.details.startMsgId)))
    return;
  const kind = alert.type === 'outage' ? 'outage' : alert.type === 'voltage' ? 'voltage' : 'device_offline';
  const client = await ctx.pool.connect();
  try {
    await client.query('BEGIN');
    if (await markNotified(client, alertId)) {
      await fanOut(ctx, client, {
        alertId,
        kind,
        subscription: kind,
        subject: { deviceId: alert.device_id, line: alert.line, region: alert.region, customer: alert.customer },
        critical: alert.severity === 'critical',
      });
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  await ensureTimers(ctx, [alertId]);
}

export const handleDebounce = (ctx: AlertsContext) => (job: Job<DebounceJob>) => notifyAlert(ctx, job.data.alertId);

/** The outages table is the truth (written with the event): a close whose event is still queued counts. */
async function outageStillOpen(ctx: AlertsContext, deviceId: string, line: number | null, startMsgId: unknown) {
  const { rows } = await ctx.pool.query<{ open: boolean }>(
    'SELECT ended_at IS NULL AS open FROM outages WHERE device_id = $1 AND line = $2 AND start_msg_id = $3',
    [deviceId, line, String(startMsgId)],
  );
  return rows[0]?.open === true;
}
