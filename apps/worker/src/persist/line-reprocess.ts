/**
 * Lines whose outages were computed before something this batch brings was visible, and
 * that must be recomputed from before it (the late path of lines.ts), for devices that
 * stamp their reports (device-time unknown windows, see windows.ts):
 * - a session break (connectivity event) received before the line's newest report: a
 *   concurrent transaction that took the device lock first processed that report without
 *   the break, so a gap across it was no window then;
 * - stamped readings (voltage) older than the line's newest report, e.g. a replayed buffer
 *   or history posted out of order: they can fill a gap that was an unknown window.
 * Cheap in the common case: a join of line_state (8 rows a device) with the primary key of
 * its newest report, filtered on receive or device time.
 */
import type { PoolClient } from '@spms/db';
import type { LineReport } from '@spms/outage-engine';
import { C, msOf, toMs, tsParam } from './sql.js';

/**
 * The lines of device `q.d` whose newest report (line_state's, found by primary key) is
 * stamped (device time) and meets `last` (a condition on that report), and whose state meets
 * `state`. Every step is a LATERAL sub-query (OFFSET 0 / LIMIT 1: never pulled up), so it
 * runs per device of the batch through the primary keys of line_state and line_events, and a
 * batch costs the same whatever the size of the fleet or of the history. As plain joins the
 * planner scanned the whole of line_events (a parallel sequential scan, before any
 * statistics) or of line_state (with statistics) for every batch bringing a session break:
 * 15-20 ms a batch at 10,000 devices, and every batch of a grid-restore storm brings one.
 */
const stampedLines = (cond: { last?: string; state?: string }) => `
    SELECT s.line FROM line_state s
     CROSS JOIN LATERAL (
       SELECT 1 FROM line_events last
        WHERE last.device_id = s.device_id AND last.line = s.line AND last.ts = s.last_ts
          AND last.msg_id = s.last_msg_id AND last.source LIKE '%+ts'${cond.last ? ` AND ${cond.last}` : ''}
        LIMIT 1) last
     WHERE s.device_id = q.d${cond.state ? ` AND ${cond.state}` : ''}
    OFFSET 0`;

/**
 * Device-time lines already processed WITHOUT a session break that this batch brings: their
 * newest report was received after the break (receive time `q.c`), so a concurrent
 * transaction that took the device lock first computed their outages before this break was
 * visible, and a gap across it was no window then. Returns, per such line, its earliest report
 * (device time) received after the break: the lines are recomputed from before it.
 */
export const LOAD_BROKEN = `
SELECT q.d::text AS device_id, s.line, ${msOf('f.ts')} AS ts, f.msg_id, f.powered
  FROM unnest($1::uuid[], $2::float8[]) AS q(d, c)
  CROSS JOIN LATERAL (${stampedLines({ last: `last.received_at > ${tsParam('q.c')}` })}) s
  CROSS JOIN LATERAL (
    SELECT e.ts, e.msg_id, e.powered FROM line_events e
     WHERE e.device_id = q.d AND e.line = s.line AND e.received_at > ${tsParam('q.c')}
     ORDER BY e.ts, e.msg_id ${C} LIMIT 1) f`;

/**
 * Device-time lines whose newest report is later than readings this batch brings late
 * (e.g. a replayed buffer of voltage samples): those readings can fill a gap that was an
 * unknown window when the line was processed, so the line is recomputed from before them.
 */
export const LOAD_FILLED = `
SELECT q.d::text AS device_id, s.line
  FROM unnest($1::uuid[], $2::float8[]) AS q(d, t)
  CROSS JOIN LATERAL (${stampedLines({ state: `s.last_ts > ${tsParam('q.t')}` })}) s`;

export interface Reprocess {
  deviceId: string;
  line: number;
  /** The recompute starts from the newest powered report strictly before this key. */
  from: LineReport;
}

export async function linesToReprocess(
  client: PoolClient,
  breaks: Map<string, number>,
  readings: Map<string, number>,
): Promise<Reprocess[]> {
  const out: Reprocess[] = [];
  if (breaks.size > 0) {
    const { rows } = await client.query<{
      device_id: string;
      line: number;
      ts: number;
      msg_id: string;
      powered: boolean;
    }>(LOAD_BROKEN, [[...breaks.keys()], [...breaks.values()]]);
    for (const r of rows)
      out.push({
        deviceId: r.device_id,
        line: r.line,
        from: { line: r.line, ts: toMs(r.ts) as number, msgId: r.msg_id, powered: r.powered },
      });
  }
  if (readings.size > 0) {
    const { rows } = await client.query<{ device_id: string; line: number }>(LOAD_FILLED, [
      [...readings.keys()],
      [...readings.values()],
    ]);
    // A bound only (msgId '' sorts before every report at that ts); the late path reads the
    // line's stored reports, so this key is never applied as a report.
    for (const r of rows)
      out.push({
        deviceId: r.device_id,
        line: r.line,
        from: { line: r.line, ts: readings.get(r.device_id) as number, msgId: '', powered: true },
      });
  }
  return out;
}
