/** Unknown windows (offline periods) of devices, as the engine wants them. */
import type { PoolClient } from '@spms/db';
import type { TimeWindow } from '@spms/outage-engine';
import { msOf, toMs, tsParam } from './sql.js';

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
