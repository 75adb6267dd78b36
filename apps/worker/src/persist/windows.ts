/** Unknown windows (offline periods) of devices, as the engine wants them. */
import type { PoolClient } from '@spms/db';
import { type TimeWindow, unknownWindowBefore } from '@spms/outage-engine';
import { receivedAtOfMessageId } from '@spms/queue';
import { C, msOf, toMs, tsParam } from './sql.js';

const SQL = `
SELECT p.device_id::text AS device_id, ${msOf('p.started_at')} AS f, ${msOf('p.ended_at')} AS t
  FROM unnest($1::uuid[], $2::float8[]) AS q(d, since)
  JOIN device_offline_periods p ON p.device_id = q.d
   AND (q.since IS NULL OR p.ended_at IS NULL OR p.ended_at > ${tsParam('q.since')})
 ORDER BY p.started_at`;

/** Windows of each device that end after `since` (null = all). Devices without any map to []. */
export async function loadWindows(
  client: PoolClient,
  since: Map<string, number | null>,
): Promise<Map<string, TimeWindow[]>> {
  const out = new Map<string, TimeWindow[]>();
  for (const id of since.keys()) out.set(id, []);
  if (since.size === 0) return out;
  const { rows } = await client.query<{ device_id: string; f: number; t: number | null }>(SQL, [
    [...since.keys()],
    [...since.values()],
  ]);
  for (const r of rows) out.get(r.device_id)?.push({ from: toMs(r.f) as number, to: toMs(r.t) });
  return out;
}

export function minSince(map: Map<string, number | null>, id: string, ts: number | null): void {
  if (!map.has(id)) map.set(id, ts);
  else {
    const cur = map.get(id) ?? null;
    map.set(id, cur === null || ts === null ? null : Math.min(cur, ts));
  }
}

/** Event times (device `ts` where sent, else receive time) and ids of every stored report of a device. */
const reportTimes = (from: string, to: string) =>
  ['line_events', 'voltage_samples', 'telemetry_raw']
    .map(
      (t) => `SELECT x.ts, x.msg_id FROM ${t} x WHERE x.device_id = q.d
        AND (q.f IS NULL OR x.ts >= ${from}) AND (q.t IS NULL OR x.ts <= ${to})`,
    )
    .join(' UNION ');

/**
 * Gaps of at least the timeout between consecutive report times in [newest ≤ from, to]
 * (from null = from the first report, to null = to the newest), with the ids of the two
 * reports. Computed in SQL (lag) so a line that last changed days ago does not ship every
 * 30 s voltage sample since.
 */
const GAPS_SQL = `
SELECT q.d::text AS device_id, ${msOf('g.prev')} AS f, ${msOf('g.ts')} AS t, g.prev_id, g.msg_id
  FROM unnest($1::uuid[], $2::float8[], $3::float8[], $4::float8[]) AS q(d, f, t, timeout)
  CROSS JOIN LATERAL (
    SELECT ts, msg_id, lag(ts) OVER w AS prev, lag(msg_id) OVER w AS prev_id
      FROM (${reportTimes(
        `COALESCE((SELECT max(y.ts) FROM (${['line_events', 'voltage_samples', 'telemetry_raw']
          .map((t) => `SELECT max(z.ts) AS ts FROM ${t} z WHERE z.device_id = q.d AND z.ts <= ${tsParam('q.f')}`)
          .join(' UNION ALL ')}) y), ${tsParam('q.f')})`,
        tsParam('q.t'),
      )}) AS r
    WINDOW w AS (ORDER BY ts, msg_id ${C})
  ) AS g
 WHERE g.prev IS NOT NULL AND g.ts - g.prev >= q.timeout * interval '1 millisecond'`;

/**
 * Whether the device's session broke in RECEIVE time between two receipts: a connectivity
 * event (connect, disconnect, lost, keep-alive timeout) or the start of an offline period.
 */
const BREAK_SQL = `
SELECT i FROM unnest($1::uuid[], $2::float8[], $3::float8[], $4::int4[]) AS q(d, a, b, i)
 WHERE EXISTS (SELECT 1 FROM device_connectivity c WHERE c.device_id = q.d
                 AND c.ts > ${tsParam('q.a')} AND c.ts <= ${tsParam('q.b')})
    OR EXISTS (SELECT 1 FROM device_offline_periods p WHERE p.device_id = q.d
                 AND p.started_at >= ${tsParam('q.a')} AND p.started_at <= ${tsParam('q.b')})`;

/**
 * Unknown windows in DEVICE time for reports that carry the device's own `ts`: a gap of at
 * least the inactivity timeout between consecutive event times of the device's reports (any
 * line, voltage or other telemetry) across which the device's session broke (it reconnected,
 * disconnected, was lost, or went offline in receive time). Buffered data the device replayed
 * fills its gap, so a gap it covers is no window. Data received in one unbroken session is
 * continuous: the device was reachable and reports every change. Receive-time offline periods
 * are another timebase and are not windows for such reports. `ranges`: device → [from, to].
 */
export async function loadDeviceTimeWindows(
  client: PoolClient,
  ranges: DeviceTimeRanges,
): Promise<Map<string, TimeWindow[]>> {
  const out = new Map<string, TimeWindow[]>();
  if (ranges.size === 0) return out;
  const ids = [...ranges.keys()];
  const { rows } = await client.query<{ device_id: string; f: number; t: number; prev_id: string; msg_id: string }>(
    GAPS_SQL,
    [
      ids,
      ids.map((id) => ranges.get(id)?.from ?? null),
      ids.map((id) => ranges.get(id)?.to ?? null),
      ids.map((id) => ranges.get(id)?.timeoutMs ?? 0),
    ],
  );
  for (const id of ids) out.set(id, []);
  type Gap = { deviceId: string; window: TimeWindow; a: number | null; b: number | null };
  const gaps: Gap[] = [];
  for (const r of rows) {
    const range = ranges.get(r.device_id);
    // The engine's rule (inactive from exactly last + timeout), applied to each SQL gap.
    const w = range ? unknownWindowBefore(toMs(r.f), toMs(r.t) as number, range.timeoutMs) : null;
    if (w)
      gaps.push({
        deviceId: r.device_id,
        window: w,
        a: receivedAtOfMessageId(r.prev_id),
        b: receivedAtOfMessageId(r.msg_id),
      });
  }
  // Ids not from the gateway (no receive time): the gap counts, as the safe side.
  const check = gaps.filter((g) => g.a !== null && g.b !== null && g.a <= g.b);
  const broke = new Set<Gap>();
  if (check.length > 0) {
    const res = await client.query<{ i: number }>(BREAK_SQL, [
      check.map((g) => g.deviceId),
      check.map((g) => g.a),
      check.map((g) => g.b),
      check.map((_, i) => i),
    ]);
    for (const r of res.rows) broke.add(check[r.i] as Gap);
  }
  for (const g of gaps) {
    const checked = check.includes(g);
    if (!checked || broke.has(g)) out.get(g.deviceId)?.push(g.window);
  }
  for (const list of out.values()) list.sort((a, b) => a.from - b.from);
  return out;
}

/** Device → the span of device time the engine will look at, and the device's inactivity timeout. */
export type DeviceTimeRanges = Map<string, { from: number | null; to: number | null; timeoutMs: number }>;

export function widenRange(
  map: DeviceTimeRanges,
  id: string,
  from: number | null,
  to: number | null,
  timeoutMs: number,
): void {
  const cur = map.get(id);
  if (!cur) map.set(id, { from, to, timeoutMs });
  else {
    cur.from = cur.from === null || from === null ? null : Math.min(cur.from, from);
    cur.to = cur.to === null || to === null ? null : Math.max(cur.to, to);
  }
}
