/**
 * Whole-site flag: outages of one device that started within SITE_GROUP_WINDOW_MS of each
 * other form a site event (engine: groupSiteOutages); the event is whole-site when all
 * enabled lines, or the cabinet's own supply (line labelled MSAN), went down. Recomputed for
 * the devices whose outages changed in the batch, over their outages since shortly before
 * the earliest change (groups are anchored at their first start; a minute of margin covers
 * any group the change can belong to, except in a storm of chained groups).
 */
import type { PoolClient } from '@spms/db';
import { groupSiteOutages, type LineInfo } from '@spms/outage-engine';
import type { DeviceConfig } from './device-config.js';
import { OUTAGE_COLUMNS, type OutageRow, rowToOutage } from './outages-store.js';
import { tsParam } from './sql.js';

const DEFAULT_LINES: LineInfo[] = Array.from({ length: 8 }, (_, i) => ({
  number: i + 1,
  label: i === 0 ? 'CEB' : i === 7 ? 'MSAN' : `TP ${i + 1}`,
  enabled: true,
}));

const LOAD = `
SELECT q.d::text AS device_id, o.whole_site, ${OUTAGE_COLUMNS}
  FROM unnest($1::uuid[], $2::float8[]) AS q(d, since)
  JOIN outages o ON o.device_id = q.d AND o.started_at >= ${tsParam('q.since')}`;

const SET = `
UPDATE outages o SET whole_site = x.w, updated_at = now()
  FROM unnest($1::uuid[], $2::int2[], $3::text[], $4::bool[]) AS x(d, l, sm, w)
 WHERE o.device_id = x.d AND o.line = x.l AND o.start_msg_id = x.sm`;

export async function markWholeSite(
  client: PoolClient,
  since: Map<string, number>,
  configs: Map<string, DeviceConfig>,
  windowMs: number,
): Promise<void> {
  if (since.size === 0) return;
  const ids = [...since.keys()];
  const { rows } = await client.query<OutageRow & { device_id: string; whole_site: boolean }>(LOAD, [
    ids,
    ids.map((id) => (since.get(id) as number) - Math.max(60_000, 2 * windowMs)),
  ]);
  const set: unknown[][] = [[], [], [], []];
  for (const id of ids) {
    const mine = rows.filter((r) => r.device_id === id);
    if (mine.length === 0) continue;
    const cfg = configs.get(id);
    const lines = cfg && cfg.lines.length > 0 ? cfg.lines : DEFAULT_LINES;
    const stored = new Map(mine.map((r) => [`${r.line}|${r.start_msg_id}`, r.whole_site]));
    for (const group of groupSiteOutages(mine.map(rowToOutage), lines, { windowMs })) {
      const whole = group.scope === 'site';
      for (const o of group.outages) {
        if (stored.get(`${o.line}|${o.startMsgId}`) === whole) continue;
        set[0]?.push(id);
        set[1]?.push(o.line);
        set[2]?.push(o.startMsgId);
        set[3]?.push(whole);
      }
    }
  }
  if ((set[0]?.length ?? 0) > 0) await client.query(SET, set);
}
