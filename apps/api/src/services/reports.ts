/**
 * Reliability reports with the aggregation pushed into PostgreSQL: one query sums lines and
 * offline time per group, one sums outage contributions per group × set × class, and
 * @spms/reliability's computeIndices turns the totals into IEEE 1366 indices. Semantics are
 * those of computeReliability (packages/reliability/README.md): frequency by start, duration
 * by overlap, offline time excluded, planned and major-event outages reported apart.
 * Service points: the enabled lines of each device, in service from the device's creation
 * or its first imported report, whichever is earlier (reports-daily.ts inServiceFrom).
 */
import type { Pool } from '@spms/db';
import { computeIndices, localDay, localDayStart, majorEventThreshold, nextDay } from '@spms/reliability';
import type { Scope } from '../plugins/auth.js';
import { hasPlannedTable, plannedExpr } from './outages-query.js';
import { dailySaidiSql, inServiceFrom } from './reports-daily.js';
import { SqlParams, scopeCondition } from './scope.js';

export type GroupBy = 'region' | 'customer' | 'device';
const SETS = ['main', 'planned', 'majorEvents'] as const;
type SetName = (typeof SETS)[number];

export interface Stats {
  count: number;
  openCount: number;
  carriedIn: number;
  withDuration: number;
  totalDurationMs: number;
  meanDurationMs: number | null;
  longestMs: number | null;
}

export interface SetReport {
  indices: ReturnType<typeof computeIndices> & { asaiPercent: number | null };
  sustained: Stats;
  momentary: Stats;
  pending: number;
  /** Sustained + momentary: the outage count and durations operators ask for first. */
  all: { count: number; totalDurationMs: number; meanDurationMs: number | null; longestMs: number | null };
}

export interface GroupReport {
  key: string;
  name: string | null;
  lines: number;
  lineHours: number;
  unknownLineHours: number;
  knownLineHours: number;
  main: SetReport;
  planned: SetReport;
  majorEvents: SetReport | null;
}

export interface ReliabilityResult {
  from: string;
  to: string;
  timeZone: string;
  groupBy: GroupBy;
  excludeMajorEvents: boolean;
  majorEventThresholdMinutes: number | null;
  majorEventDays: string[];
  fleet: GroupReport;
  groups: GroupReport[];
}

const H = 3_600_000;

function emptyStats(): Stats {
  return {
    count: 0,
    openCount: 0,
    carriedIn: 0,
    withDuration: 0,
    totalDurationMs: 0,
    meanDurationMs: null,
    longestMs: null,
  };
}

interface Acc {
  key: string;
  name: string | null;
  lines: number;
  lineMs: number;
  unknownMs: number;
  sets: Record<SetName, { sustained: Stats; momentary: Stats; pending: number }>;
}

function newAcc(key: string, name: string | null): Acc {
  const set = () => ({ sustained: emptyStats(), momentary: emptyStats(), pending: 0 });
  return { key, name, lines: 0, lineMs: 0, unknownMs: 0, sets: { main: set(), planned: set(), majorEvents: set() } };
}

function finishSet(s: Acc['sets'][SetName], lines: number, knownMs: number): SetReport {
  for (const st of [s.sustained, s.momentary])
    st.meanDurationMs = st.withDuration > 0 ? st.totalDurationMs / st.withDuration : null;
  const indices = computeIndices(s.sustained, s.momentary.count, lines, knownMs);
  const withDuration = s.sustained.withDuration + s.momentary.withDuration;
  const total = s.sustained.totalDurationMs + s.momentary.totalDurationMs;
  const longest = [s.sustained.longestMs, s.momentary.longestMs].filter((x): x is number => x !== null);
  return {
    indices: { ...indices, asaiPercent: indices.asai === null ? null : indices.asai * 100 },
    sustained: s.sustained,
    momentary: s.momentary,
    pending: s.pending,
    all: {
      count: s.sustained.count + s.momentary.count,
      totalDurationMs: total,
      meanDurationMs: withDuration > 0 ? total / withDuration : null,
      longestMs: longest.length ? Math.max(...longest) : null,
    },
  };
}

function finish(a: Acc, withMed: boolean): GroupReport {
  const knownMs = Math.max(0, a.lineMs - a.unknownMs);
  return {
    key: a.key,
    name: a.name,
    lines: a.lines,
    lineHours: a.lineMs / H,
    unknownLineHours: a.unknownMs / H,
    knownLineHours: knownMs / H,
    main: finishSet(a.sets.main, a.lines, knownMs),
    planned: finishSet(a.sets.planned, a.lines, knownMs),
    majorEvents: withMed ? finishSet(a.sets.majorEvents, a.lines, knownMs) : null,
  };
}

/** Per-device service span: [max(from, in service), to) and its enabled lines. */
function devCte(scope: Scope | null, p: SqlParams, from: string, to: string, groupBy: GroupBy): string {
  const gkey = groupBy === 'device' ? 'd.id::text' : `d.${groupBy}`;
  return `dev AS MATERIALIZED (
    SELECT d.id, ${gkey} AS gkey, ${groupBy === 'device' ? 'd.name' : 'NULL::text'} AS gname, d.region,
           greatest(${from}::timestamptz, ${inServiceFrom('d')}) AS sf, ${to}::timestamptz AS st,
           COALESCE(l.n, 0) AS n, COALESCE(l.mask, 0) AS mask
      FROM devices d
      LEFT JOIN (SELECT device_id, count(*)::int AS n, bit_or(1 << (number - 1)) AS mask
                   FROM device_lines WHERE enabled GROUP BY device_id) l
        ON l.device_id = d.id
     WHERE ${scopeCondition(scope, 'd', p)} AND ${inServiceFrom('d')} < ${to}::timestamptz)`;
}

const ms = (e: string) => `(extract(epoch FROM ${e}) * 1000)::float8`;

export async function reliabilityReport(
  pg: Pool,
  scope: Scope | null,
  opts: { from: Date; to: Date; groupBy: GroupBy; excludeMajorEvents: boolean; timeZone: string },
): Promise<ReliabilityResult> {
  const { from, to, groupBy, timeZone } = opts;
  const present = await hasPlannedTable(pg);
  // The per-outage window test costs a subquery per row: skip it when no window can match.
  const windows = present
    ? (await pg.query('SELECT 1 FROM planned_interruptions WHERE starts_at < $1 LIMIT 1', [to])).rows.length > 0
    : false;
  const planned = plannedExpr(windows, 'o', 'dev');
  let medDays: string[] = [];
  let threshold: number | null = null;
  if (opts.excludeMajorEvents) {
    const med = await majorEventDaysFor(pg, scope, from.getTime(), to.getTime(), timeZone, plannedExpr(windows));
    medDays = med.days;
    threshold = med.threshold;
  }

  const lp = new SqlParams();
  const lf = lp.add(from);
  const lt = lp.add(to);
  const linesSql = `WITH ${devCte(scope, lp, lf, lt, groupBy)},
    unk AS (
      SELECT p.device_id, sum(${ms(`least(COALESCE(p.ended_at, 'infinity'), dev.st) - greatest(p.started_at, dev.sf)`)}) AS ms
        FROM device_offline_periods p JOIN dev ON dev.id = p.device_id
       WHERE p.started_at < dev.st AND COALESCE(p.ended_at, 'infinity') > dev.sf
       GROUP BY p.device_id)
    SELECT dev.gkey, max(dev.gname) AS gname, sum(dev.n)::float8 AS lines,
           sum(dev.n * ${ms('dev.st - dev.sf')})::float8 AS line_ms, sum(dev.n * COALESCE(unk.ms, 0))::float8 AS unknown_ms
      FROM dev LEFT JOIN unk ON unk.device_id = dev.id
     WHERE dev.n > 0
     GROUP BY dev.gkey`;

  const op = new SqlParams();
  const of = op.add(from);
  const ot = op.add(to);
  // One pass over the period's outages with cheap per-row work only (so the planner hashes
  // the few groups): an outage wholly inside its line's span adds the engine's own known
  // duration (duration_ms); the ids of the few crossing a span edge come back, and a second
  // query clips them and removes the device's offline time in the clip. Disabled lines drop
  // out via a bit mask of enabled lines per device.
  const crossing = `o.ended_at IS NOT NULL AND (o.started_at < dev.sf OR o.ended_at > dev.st)`;
  const inside = `o.ended_at IS NOT NULL AND o.started_at >= dev.sf AND o.ended_at <= dev.st`;
  const clippedKnown = `greatest(0, ${ms('least(o.ended_at, dev.st) - greatest(o.started_at, dev.sf)')} - COALESCE((
      SELECT sum(${ms(`least(COALESCE(p.ended_at, 'infinity'), o.ended_at, dev.st) - greatest(p.started_at, o.started_at, dev.sf)`)})
        FROM device_offline_periods p
       WHERE p.device_id = o.device_id AND p.started_at < least(o.ended_at, dev.st)
         AND COALESCE(p.ended_at, 'infinity') > greatest(o.started_at, dev.sf)), 0))`;
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

  const [linesRes, outRes] = await Promise.all([pg.query(linesSql, lp.values), pg.query(outagesSql, op.values)]);
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
  // Every row adds to its group (none for a device without region/customer) and to the fleet.
  const fleet = newAcc('fleet', null);
  const groups = new Map<string, Acc>();
  for (const r of linesRes.rows) {
    const targets = [fleet];
    if (r.gkey !== null) {
      const g = newAcc(r.gkey, r.gname);
      groups.set(r.gkey, g);
      targets.push(g);
    }
    for (const a of targets) {
      a.lines += r.lines;
      a.lineMs += r.line_ms;
      a.unknownMs += r.unknown_ms;
    }
  }
  for (const r of outRes.rows) {
    const g = r.gkey === null ? undefined : groups.get(r.gkey);
    for (const a of g ? [fleet, g] : [fleet]) {
      const set = a.sets[r.set as SetName];
      if (r.class === 'pending') {
        set.pending += r.count;
        continue;
      }
      const st = set[r.class as 'sustained' | 'momentary'];
      st.count += r.count;
      st.openCount += r.open_count;
      st.carriedIn += r.carried_in;
      st.withDuration += r.with_duration;
      st.totalDurationMs += r.total_ms;
      if (r.longest_ms !== null) st.longestMs = Math.max(st.longestMs ?? 0, r.longest_ms);
      for (const id of (r.crossing_ids as string[] | null) ?? []) {
        const known = clipped.get(id) ?? 0;
        st.totalDurationMs += known;
        st.longestMs = Math.max(st.longestMs ?? 0, known);
      }
    }
  }
  const withMed = opts.excludeMajorEvents;
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    timeZone,
    groupBy,
    excludeMajorEvents: withMed,
    majorEventThresholdMinutes: threshold,
    majorEventDays: medDays,
    fleet: finish(fleet, withMed),
    groups: [...groups.values()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((g) => finish(g, withMed)),
  };
}

/** IEEE 1366 2.5β: T_MED from the five years of local days before the period, applied to the period's days. */
async function majorEventDaysFor(
  pg: Pool,
  scope: Scope | null,
  fromMs: number,
  toMs: number,
  timeZone: string,
  planned: string,
): Promise<{ days: string[]; threshold: number | null }> {
  const fromDay = localDay(fromMs, timeZone);
  const toDay = nextDay(localDay(toMs - 1, timeZone));
  const historyFrom = `${String(Number(fromDay.slice(0, 4)) - 5).padStart(4, '0')}${fromDay.slice(4)}`;
  const daily = await dailySaidiSql(pg, scope, { fromDay: historyFrom, toDay, timeZone, planned });
  const history = daily.filter((d) => d.day < fromDay).map((d) => d.saidiMinutes);
  const t = majorEventThreshold(history);
  if (!t) return { days: [], threshold: null };
  const days = daily.filter((d) => d.day >= fromDay && d.saidiMinutes > t.thresholdMinutes).map((d) => d.day);
  // Keep only days that really lie inside [from, to) (the period may start mid-day).
  return {
    days: days.filter((d) => localDayStart(nextDay(d), timeZone) > fromMs && localDayStart(d, timeZone) < toMs),
    threshold: t.thresholdMinutes,
  };
}
