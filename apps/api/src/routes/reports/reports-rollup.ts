/**
 * The outage half of a reliability report from the day rollups (outage_day_rollups, kept by
 * the triggers of migration 20261203000100; docs/reports-rollups.md). The report period
 * [from, to) splits per device into
 *   head  [local midnight of its first day, F)  where F = the first local midnight ≥ the
 *         device's start in the period (max(from, in service));
 *   body  whole local days [F, T)               where T = the last local midnight ≤ to;
 *   tail  [T, to).
 * The body's totals are sums of day rows (outages that began in the body, their time inside
 * it); raw rows are read only for the "edge" outages: those that began in the head or the
 * tail, were carried in (began before the device's start, still running), are open, or
 * began in the body and run past T. Each edge outage is then counted as
 * the raw path counts it, less what the body rows already hold of it, so both paths agree to
 * the millisecond (the property test in reports-rollup.test.ts).
 */
import type { Pool } from '@spms/db';
import { localDay, localDayStart, nextDay } from '@spms/reliability';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import type { GroupBy, OutageRow, SetName } from './reports-acc.js';
import { rawOutageTotals } from './reports-raw.js';
import { devCte, ms, reportQuery } from './reports-sql.js';

/** The zone the rollups' days are in (the worker rebuilds them when SPMS_TIME_ZONE changes). */
export async function rollupZone(pg: Pool): Promise<string | null> {
  const res = await pg.query<{ time_zone: string }>('SELECT time_zone FROM outage_rollup_settings WHERE id = 1');
  return res.rows[0]?.time_zone ?? null;
}

/**
 * Whether outage changes inside [from, to) (a day of margin each side) are still waiting for
 * the worker's rollup refresher (outage_rollup_dirty, migration 20261203001000): the report
 * is then read from raw rows, so it is exact whether or not the refresher has caught up.
 */
export async function rollupsDirty(pg: Pool, from: Date, to: Date, timeZone: string): Promise<boolean> {
  const res = await pg.query(
    `SELECT 1 FROM outage_rollup_dirty
      WHERE from_day <= ($2::timestamptz AT TIME ZONE $3)::date + 1
        AND to_day >= ($1::timestamptz AT TIME ZONE $3)::date - 1
      LIMIT 1`,
    [from, to, timeZone],
  );
  return res.rows.length > 0;
}

/**
 * Whether local days of [from, to) (a day of margin each side) still wait for their group
 * rows (outage_group_rollup_dirty, migration 20261203001400): a day row written, or a device
 * moved to another region or customer, its lines enabled or disabled, since the refresher's
 * last round. The report then sums the day rows instead.
 */
export async function groupRollupsDirty(pg: Pool, from: Date, to: Date, timeZone: string): Promise<boolean> {
  const res = await pg.query(
    `SELECT 1 FROM outage_group_rollup_dirty
      WHERE day BETWEEN ($1::timestamptz AT TIME ZONE $3)::date - 1 AND ($2::timestamptz AT TIME ZONE $3)::date + 1
      LIMIT 1`,
    [from, to, timeZone],
  );
  return res.rows.length > 0;
}

interface Opts {
  from: Date;
  to: Date;
  groupBy: GroupBy;
  timeZone: string;
  /** SQL boolean: outage `o` (device row `dev`) is planned. */
  planned: string;
  medDays: string[];
  /** The body from day rows (any grouping) or from group rows (by region or customer). */
  level?: 'day' | 'group';
}

/** Known time of `o` inside [lo, hi) (SQL timestamptz expressions), the device's offline time removed. */
const knownIn = (
  lo: string,
  hi: string,
) => `greatest(0, ${ms(`least(o.ended_at, ${hi}) - greatest(o.started_at, ${lo})`)} - COALESCE((
      SELECT sum(${ms(`least(COALESCE(p.ended_at, 'infinity'), o.ended_at, ${hi}) - greatest(p.started_at, o.started_at, ${lo})`)})
        FROM device_offline_periods p
       WHERE p.device_id = o.device_id AND p.started_at < least(o.ended_at, ${hi})
         AND COALESCE(p.ended_at, 'infinity') > greatest(o.started_at, ${lo})), 0))`;

export async function rollupOutageTotals(pg: Pool, scope: Scope | null, opts: Opts): Promise<OutageRow[]> {
  const { from, to, timeZone } = opts;
  const firstDay = localDay(from.getTime(), timeZone);
  const fDay = localDayStart(firstDay, timeZone) === from.getTime() ? firstDay : nextDay(firstDay);
  const tDay = localDay(to.getTime(), timeZone);
  // Less than one whole local day: nothing to read from the rollups.
  if (fDay >= tDay) return rawOutageTotals(pg, scope, opts);
  const T = new Date(localDayStart(tDay, timeZone));

  // Per device: sday = the local day it starts the period on, fday = its first whole day
  // (capped at T's day: then it has no body), hs and fds = their midnights. Devices in
  // service before the period (nearly all) share the period's own: no zone arithmetic per
  // device (~40 ms at 10,000).
  const withDays = (p: SqlParams, groupBy: GroupBy) => {
    const f = p.add(from);
    const t = p.add(to);
    const tz = p.add(timeZone);
    const td = p.add(tDay);
    const own = (mine: string, theirs: string) =>
      `CASE WHEN dev0.sf = ${f}::timestamptz THEN ${mine} ELSE ${theirs} END`;
    return `${devCte(scope, p, f, t, groupBy, '', 'dev0')},
    dev AS MATERIALIZED (
      SELECT dev0.*,
             ${own(`${p.add(firstDay)}::date`, `(dev0.sf AT TIME ZONE ${tz})::date`)} AS sday,
             ${own(
               `${p.add(fDay)}::date`,
               `least(${td}::date, CASE WHEN dev0.sf = ((dev0.sf AT TIME ZONE ${tz})::date::timestamp AT TIME ZONE ${tz})
                                     THEN (dev0.sf AT TIME ZONE ${tz})::date
                                     ELSE (dev0.sf AT TIME ZONE ${tz})::date + 1 END)`,
             )} AS fday,
             ${own(
               `${p.add(new Date(localDayStart(firstDay, timeZone)))}::timestamptz`,
               `((dev0.sf AT TIME ZONE ${tz})::date::timestamp AT TIME ZONE ${tz})`,
             )} AS hs,
             ${own(
               `${p.add(new Date(localDayStart(fDay, timeZone)))}::timestamptz`,
               `(least(${td}::date, CASE WHEN dev0.sf = ((dev0.sf AT TIME ZONE ${tz})::date::timestamp AT TIME ZONE ${tz})
                                         THEN (dev0.sf AT TIME ZONE ${tz})::date
                                         ELSE (dev0.sf AT TIME ZONE ${tz})::date + 1 END)::timestamp AT TIME ZONE ${tz})`,
             )} AS fds
        FROM dev0)`;
  };

  const setOf = (p: SqlParams, planned: string, day: () => string) =>
    `CASE WHEN ${planned} THEN 'planned'${
      opts.medDays.length ? ` WHEN ${day()} = ANY(${p.add(opts.medDays)}::date[]) THEN 'majorEvents'` : ''
    } ELSE 'main' END`;

  // Body: the day rows of outages that began in the body, or their sums per region and
  // customer (the rows of a device's partial first day in service, first_day, are its head).
  const bp = new SqlParams();
  const bodySql =
    opts.level === 'group' && opts.groupBy !== 'device'
      ? `SELECT g.${opts.groupBy} AS gkey, ${setOf(bp, 'g.planned', () => 'g.start_day')} AS set, g.class,
           sum(g.started)::int AS count, sum(g.open)::int AS open_count, sum(g.closed)::int AS with_duration,
           sum(g.known_ms)::float8 AS total_ms, max(g.longest_ms)::float8 AS longest_ms
      FROM outage_group_day_rollups g
     WHERE ${scopeCondition(scope, 'g', bp)} AND g.start_day >= ${bp.add(fDay)}::date
       AND g.start_day < ${bp.add(tDay)}::date AND g.day < ${bp.add(tDay)}::date AND NOT g.first_day
     GROUP BY 1, 2, 3`
      : `WITH ${withDays(bp, opts.groupBy)}
    SELECT dev.gkey, ${setOf(bp, 'r.planned', () => 'r.start_day')} AS set, r.class,
           sum(r.started)::int AS count, sum(r.open)::int AS open_count, sum(r.closed)::int AS with_duration,
           sum(r.known_ms)::float8 AS total_ms, max(r.longest_ms)::float8 AS longest_ms
      FROM outage_day_rollups r
      JOIN dev ON dev.id = r.device_id
     WHERE r.day >= ${bp.add(fDay)}::date AND r.day < ${bp.add(tDay)}::date
       AND r.start_day >= dev.fday
       AND (dev.mask >> (r.line - 1)) & 1 <> 0
     GROUP BY 1, 2, 3`;

  // Edge outages (see the header), each with what the raw path gives it and what the body
  // rows already hold of it.
  const ep = new SqlParams();
  const eDays = withDays(ep, opts.groupBy);
  const headFrom = ep.add(new Date(localDayStart(firstDay, timeZone)));
  const fMid = ep.add(new Date(localDayStart(fDay, timeZone)));
  const tMid = ep.add(T);
  const eTo = ep.add(to);
  const eFirstDay = ep.add(firstDay);
  const eTDay = ep.add(tDay);
  const edgeSql = `WITH ${eDays},
    -- the few day rows of the period's first day held by outages begun before it (by the day
    -- index, before any join: probing the rollups once per device cost ~10^4 index look-ups)
    carried AS MATERIALIZED (
      SELECT r.device_id, r.line, r.day FROM outage_day_rollups r
       WHERE r.day = ${eFirstDay}::date AND r.start_day < r.day),
    ids AS (
      -- began in the head (devices in service from the period's start: one range scan) or the tail
      SELECT o.id FROM outages o WHERE o.started_at >= ${headFrom}::timestamptz AND o.started_at < ${fMid}::timestamptz
      UNION SELECT o.id FROM outages o WHERE o.started_at >= ${tMid}::timestamptz AND o.started_at < ${eTo}::timestamptz
      -- devices that entered service inside the period (after F): their own head
      UNION SELECT o.id FROM dev JOIN outages o ON o.device_id = dev.id
             AND o.started_at >= dev.hs AND o.started_at < dev.fds
       WHERE dev.fday > ${ep.add(fDay)}::date
      -- open (few, by the partial index): those begun in a body are flagged in_body and add nothing
      UNION SELECT o.id FROM outages o WHERE o.ended_at IS NULL AND o.started_at < ${tMid}::timestamptz
      -- closed, begun before a device's first day and running into it; begun before T and running past it
      -- (the period's first day by the day index; devices that entered service later by theirs)
      UNION SELECT c.id FROM carried r
        JOIN dev ON dev.id = r.device_id AND dev.sday = r.day
        CROSS JOIN LATERAL (SELECT o.id FROM outages o
                             WHERE o.device_id = r.device_id AND o.line = r.line AND o.started_at < dev.hs
                             ORDER BY o.started_at DESC LIMIT 1) c
      UNION SELECT c.id FROM dev
        JOIN outage_day_rollups r ON r.device_id = dev.id AND r.day = dev.sday AND r.start_day < r.day
        CROSS JOIN LATERAL (SELECT o.id FROM outages o
                             WHERE o.device_id = r.device_id AND o.line = r.line AND o.started_at < dev.hs
                             ORDER BY o.started_at DESC LIMIT 1) c
       WHERE dev.sday > ${eFirstDay}::date
      UNION SELECT c.id FROM outage_day_rollups r
        CROSS JOIN LATERAL (SELECT o.id FROM outages o
                             WHERE o.device_id = r.device_id AND o.line = r.line AND o.started_at < ${tMid}::timestamptz
                             ORDER BY o.started_at DESC LIMIT 1) c
       WHERE r.day = ${eTDay}::date AND r.start_day < r.day)
    SELECT dev.gkey, ${setOf(ep, opts.planned, () => `(o.started_at AT TIME ZONE ${ep.add(timeZone)})::date`)} AS set,
           o.class, o.started_at >= dev.sf AS starts_in, o.ended_at IS NULL AS open,
           (o.started_at >= dev.fds AND o.started_at < ${tMid}::timestamptz) AS in_body,
           CASE WHEN o.ended_at IS NULL THEN NULL
                WHEN o.started_at >= dev.sf AND o.ended_at <= dev.st THEN o.duration_ms::float8
                ELSE ${knownIn('dev.sf', 'dev.st')} END AS known,
           CASE WHEN o.ended_at IS NULL THEN 0
                WHEN o.ended_at <= ${tMid}::timestamptz THEN COALESCE(o.duration_ms, 0)::float8
                ELSE ${knownIn('o.started_at', `${tMid}::timestamptz`)} END AS body_ms
      -- by primary key, one edge outage at a time (OFFSET 0 keeps the planner from hashing all outages)
      FROM ids CROSS JOIN LATERAL (SELECT * FROM outages x WHERE x.id = ids.id OFFSET 0) o
      JOIN dev ON dev.id = o.device_id
     WHERE o.started_at < dev.st AND (o.ended_at IS NULL OR o.ended_at > dev.sf)
       AND (dev.mask >> (o.line - 1)) & 1 <> 0`;

  const [body, edges] = await Promise.all([reportQuery(pg, bodySql, bp.values), reportQuery(pg, edgeSql, ep.values)]);
  const out: OutageRow[] = body.rows.map((r) => ({
    gkey: r.gkey,
    set: r.set as SetName,
    cls: r.class,
    t: {
      count: r.count,
      openCount: r.open_count,
      carriedIn: 0,
      withDuration: r.with_duration,
      totalMs: r.total_ms,
      longestMs: r.longest_ms,
    },
  }));
  for (const e of edges.rows) {
    const known = e.known as number | null;
    const row = { gkey: e.gkey as string | null, set: e.set as SetName, cls: e.class as string };
    if (e.in_body) {
      // counted by the body rows, which hold its time up to T: add the rest, and its length
      out.push({
        ...row,
        t: {
          count: 0,
          openCount: 0,
          carriedIn: 0,
          withDuration: 0,
          totalMs: (known ?? 0) - e.body_ms,
          longestMs: known,
        },
      });
      continue;
    }
    out.push({
      ...row,
      t: {
        count: e.starts_in ? 1 : 0,
        openCount: e.starts_in && e.open ? 1 : 0,
        carriedIn: e.starts_in ? 0 : 1,
        withDuration: e.open ? 0 : 1,
        totalMs: known ?? 0,
        longestMs: known,
      },
    });
  }
  return out;
}
