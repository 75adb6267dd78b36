/** Telling people about an alert (the debounce timer firing, or a held alert released). */

import type { DebounceJob } from '@spms/contracts';
import { withTransaction } from '@spms/db';
import type { Job } from 'bullmq';
import type { AlertsContext } from './context.js';
import { scheduleEscalation, startEscalation } from './escalation.js';
import { ensureTimers, fanOut, type WindowRef } from './fan-out.js';
import { markNotified } from './store.js';

interface FireRow {
  type: 'outage' | 'device_offline' | 'voltage';
  severity: string;
  device_id: string;
  line: number | null;
  region: string | null;
  customer: string | null;
  live: boolean;
  flapping: boolean;
  /** The outages table is the truth (written with the event): a close whose event is still queued counts. */
  outage_open: boolean | null;
  /** The worker marks whole_site after grouping a site's lines, possibly after the event. */
  site_or_utility: boolean;
}

// One round trip: the alert, its line's flapping state and its outage row.
const FIRE = `
SELECT a.type, a.severity, a.device_id::text, a.line, a.region, a.customer,
       (a.cleared_at IS NULL AND NOT a.voided AND a.notified_at IS NULL) AS live,
       coalesce(f.flapping, false) AS flapping,
       o.ended_at IS NULL AND o.device_id IS NOT NULL AS outage_open,
       coalesce(o.whole_site OR o.utility_feed, false) AS site_or_utility
  FROM alerts a LEFT JOIN alert_line_flapping f ON f.device_id = a.device_id AND f.line = a.line
  LEFT JOIN outages o ON o.device_id = a.device_id AND o.line = a.line AND o.start_msg_id = a.details->>'startMsgId'
 WHERE a.id = $1`;

/** Re-checks the database at fire time: only a condition still open is texted, once. */
export async function notifyAlert(ctx: AlertsContext, alertId: string): Promise<void> {
  const { rows } = await ctx.pool.query<FireRow>(FIRE, [alertId]);
  const alert = rows[0];
  if (!alert?.live) return; // momentary, voided, or already told
  if (alert.type === 'outage' && alert.outage_open !== true) return;
  if (alert.type === 'outage' && alert.flapping) {
    await ctx.pool.query('UPDATE alerts SET held = true, updated_at = now() WHERE id = $1', [alertId]);
    return;
  }
  if (alert.type === 'outage' && alert.site_or_utility && alert.severity !== 'critical') {
    // Whole-site / CEB loss is critical (it overrides quiet hours), known for sure only now.
    await ctx.pool.query(`UPDATE alerts SET severity = 'critical', updated_at = now() WHERE id = $1`, [alertId]);
    alert.severity = 'critical';
  }
  const kind = alert.type === 'outage' ? 'outage' : alert.type === 'voltage' ? 'voltage' : 'device_offline';
  const windows = await withTransaction(ctx.pool, async (client): Promise<WindowRef[] | undefined> => {
    if (!(await markNotified(client, alertId))) return undefined;
    const subject = { deviceId: alert.device_id, line: alert.line, region: alert.region, customer: alert.customer };
    const critical = alert.severity === 'critical';
    const told = await fanOut(ctx, client, { alertId, kind, subscription: kind, subject, critical });
    // Escalation policy: its tier 1 joins the same windows (escalation.ts).
    const severity = alert.severity as Parameters<typeof startEscalation>[2]['severity'];
    return [...told, ...(await startEscalation(ctx, client, { id: alertId, kind, severity, subject }))];
  });
  await ensureTimers(ctx, [alertId], windows);
  await scheduleEscalation(ctx, [alertId]);
}

export const handleDebounce = (ctx: AlertsContext) => (job: Job<DebounceJob>) => notifyAlert(ctx, job.data.alertId);
