/**
 * The outage half of a reliability report computed from the raw outage rows (the design
 * before day rollups, kept behind REPORTS_FROM=raw for comparison and as the oracle of the
 * rollup path's tests). One pass over the period's outages with cheap per-row work only
 * (so the planner hashes the few groups): an outage wholly inside its line's span adds the
 * engine's own known duration (duration_ms); the ids of the few crossing a span edge come
 * back, and a second query clips them and removes the device's offline time in the clip.
 * Disabled lines drop out via a bit mask of enabled lines per device.
 */
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { SqlParams } from '../../core/scope.js';
import type { GroupBy, OutageRow, SetName } from './reports-acc.js';
import { inServiceFrom } from './reports-daily.js';
import { devCte, ms } from './reports-sql.js';

/** SQL: known time of outage `o` inside its device's span [dev.sf, dev.st), offline time removed. */
export const clippedKnown = `greatest(0, ${ms('least(o.ended_at, dev.st) - greatest(o.started_at, dev.sf)')} - COALESCE((
      SELECT sum(${ms(`least(COALESCE(p.ended_at, 'infinity'), o.ended_at, dev.st) - greatest(p.started_at, o.started_at, dev.sf)`)})
        FROM device_offline_periods p
       WHERE p.device_id = o.device_id AND p.started_at < least(o.ended_at, dev.st)
         AND COALESCE(p.ended_at, 'infinity') > greatest(o.started_at, dev.sf)), 0))`;

export async function rawOutageTotals(
  pg: Pool,
  scope: Scope | null,
  opts: { from: Date; to: Date; groupBy: GroupBy; timeZone: string; planned: string; medDays: string[] },
): Promise<OutageRow[]> {
  const { from, to, groupBy, timeZone, planned, medDays } = opts;
  const op = new SqlParams();
  const of = op.add(from);
  const ot = op.add(to);
  const crossing = `o.ended_at IS NOT NULL AND (o.started_at < dev.sf OR o.ended_at > dev.st)`;
  const inside = `o.ended_at IS NOT NULL AND o.started_at >= dev.sf AND o.ended_at <= dev.st`;
  const setExpr = `CASE WHEN ${planned} THEN 'planned'${
    medDays.length
      ? ` WHEN (o.started_at AT TIME ZONE ${op.add(timeZone)})::date = ANY(${op.add(medDays)}::date[]) THEN 'majorEvents'`
      : ''
  } ELSE 'main' END`;
  const outagesSql = `WITH ${devCte(scope, op, of, ot, groupBy)}
    SELECT dev.gkey, ${setExpr} AS set, o.class,
           count(*) FILTER (WHERE o.started_at >= dev.sf)::int AS count,
           count(*) FILTER (WHERE o.started_at >= dev.sf AND o.ended_at IS NULL)::int AS open_count,
           count(*) FILTER (WHERE o.started_at < dev.sf)::int AS carried_in,
           count(*) FILTER (WHERE o.ended_at IS NOT NULL)::int AS with_duration,
           COALESCE(sum(o.duration_ms) FILTER (WHERE ${inside}), 0)::float8 AS total_ms,
           max(o.duration_ms) FILTER (WHERE ${inside})::float8 AS longest_ms,
           array_agg(o.id::text) FILTER (WHERE ${crossing}) AS crossing_ids
      FROM outages o
      JOIN dev ON dev.id = o.device_id
     -- constant bounds first: the planner scans the period once and hash-joins the devices
     WHERE o.started_at < ${ot}::timestamptz AND (o.ended_at IS NULL OR o.ended_at > ${of}::timestamptz)
       AND (o.ended_at IS NULL OR o.ended_at > dev.sf)
       -- written as <> 0: the planner's guess for "= 1" on an expression (0.5 %) made it
       -- expect a few hundred rows and sort 10^6 of them instead of hashing 75 groups
       AND (dev.mask >> (o.line - 1)) & 1 <> 0
     GROUP BY 1, 2, 3`;
  const outRes = await pg.query(outagesSql, op.values);
  const crossingIds = outRes.rows.flatMap((r) => (r.crossing_ids as string[] | null) ?? []);
  const clipped = new Map<string, number>();
  if (crossingIds.length > 0) {
    const cp = new SqlParams();
    const cf = cp.add(from);
    const ct = cp.add(to);
    const ids = cp.add(crossingIds);
    const res = await pg.query<{ id: string; known: number }>(
      `WITH dev AS (SELECT d.id, greatest(${cf}::timestamptz, ${inServiceFrom('d')}) AS sf, ${ct}::timestamptz AS st FROM devices d)
       SELECT o.id::text AS id, ${clippedKnown}::float8 AS known
         FROM outages o JOIN dev ON dev.id = o.device_id WHERE o.id = ANY(${ids}::bigint[])`,
      cp.values,
    );
    for (const r of res.rows) clipped.set(r.id, r.known);
  }
  const out: OutageRow[] = [];
  for (const r of outRes.rows) {
    const row = { gkey: r.gkey as string | null, set: r.set as SetName, cls: r.class as string };
    out.push({
      ...row,
      t: {
        count: r.count,
        openCount: r.open_count,
        carriedIn: r.carried_in,
        withDuration: r.with_duration,
        totalMs: r.total_ms,
        longestMs: r.longest_ms,
      },
    });
    for (const id of (r.crossing_ids as string[] | null) ?? []) {
      const known = clipped.get(id) ?? 0;
      out.push({
        ...row,
        t: { count: 0, openCount: 0, carriedIn: 0, withDuration: 0, totalMs: known, longestMs: known },
      });
    }
  }
  return out;
}
