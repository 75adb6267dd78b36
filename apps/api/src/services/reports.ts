/**
 * Reliability reports with the aggregation pushed into PostgreSQL: one query sums lines and
 * offline time per group, one sums outage contributions per group × set × class, and
 * @spms/reliability's computeIndices turns the totals into IEEE 1366 indices. Semantics are
 * those of computeReliability (packages/reliability/README.md): frequency by start, duration
 * by overlap, offline time excluded, planned and major-event outages reported apart.
 * Service points: the enabled lines of each device, in service from the device's creation.
 */
import type { Pool } from '@spms/db';
import { computeIndices, localDay, localDayStart, majorEventThreshold, nextDay } from '@spms/reliability';
import type { Scope } from '../plugins/auth.js';
import { hasPlannedTable, plannedExpr } from './outages-query.js';
import { dailySaidiSql } from './reports-daily.js';
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

/** Per-device service span: [max(from, created_at), to) and its enabled lines. */
function devCte(scope: Scope | null, p: SqlParams, from: string, to: string, groupBy: GroupBy): string {
  const gkey = groupBy === 'device' ? 'd.id::text' : `d.${groupBy}`;
  return `dev AS MATERIALIZED (
    SELECT d.id, ${gkey} AS gkey, ${groupBy === 'device' ? 'd.name' : 'NULL::text'} AS gname, d.region,
           greatest(${from}::timestamptz, d.created_at) AS sf, ${to}::timestamptz AS st,
           (SELECT count(*) FROM device_lines dl WHERE dl.device_id = d.id AND dl.enabled)::int AS n
      FROM devices d
     WHERE ${scopeCondition(scope, 'd', p)} AND d.created_at < ${to}::timestamptz)`;
}

const ms = (e: string) => `(extract(epoch FROM ${e}) * 1000)::float8`;

export async function reliabilityReport(
  pg: Pool,
  scope: Scope | null,
  opts: { from: Date; to: Date; groupBy: GroupBy; excludeMajorEvents: boolean; timeZone: string },
): Promise<ReliabilityResult> {
  const { from, to, groupBy, timeZone } = opts;
  const present = await hasPlannedTable(pg);
  const planned = plannedExpr(present, 'o', 'dev');
  let medDays: string[] = [];
  let threshold: number | null = null;
  if (opts.excludeMajorEvents) {
    const med = await majorEventDaysFor(pg, scope, from.getTime(), to.getTime(), timeZone, plannedExpr(present));
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
    SELECT dev.gkey, max(dev.gname) AS gname, GROUPING(dev.gkey) AS fleet, sum(dev.n)::float8 AS lines,
           sum(dev.n * ${ms('dev.st - dev.sf')})::float8 AS line_ms, sum(dev.n * COALESCE(unk.ms, 0))::float8 AS unknown_ms
      FROM dev LEFT JOIN unk ON unk.device_id = dev.id
     WHERE dev.n > 0
     GROUP BY GROUPING SETS ((dev.gkey), ())`;

  const op = new SqlParams();
  const of = op.add(from);
  const ot = op.add(to);
  const tzp = op.add(timeZone);
  const medp = op.add(medDays);
  // Whole outage inside the span: the engine's own known time. Crossing a boundary: the
  // clipped part minus the device's offline time in it (correlated, so only for those rows).
  const outagesSql = `WITH ${devCte(scope, op, of, ot, groupBy)},
    oc AS (
      SELECT dev.gkey, dev.gname, o.class, o.ended_at IS NULL AS open,
             (o.started_at >= dev.sf) AS starts_in,
             (o.started_at < dev.sf) AS carried_in,
             CASE WHEN o.ended_at IS NULL OR least(o.ended_at, dev.st) <= greatest(o.started_at, dev.sf) THEN NULL
                  WHEN o.started_at >= dev.sf AND o.ended_at <= dev.st
                    THEN greatest(0, ${ms('o.ended_at - o.started_at')} - o.unknown_ms)
                  ELSE greatest(0, ${ms('least(o.ended_at, dev.st) - greatest(o.started_at, dev.sf)')} - COALESCE((
                    SELECT sum(${ms(`least(COALESCE(p.ended_at, 'infinity'), o.ended_at, dev.st) - greatest(p.started_at, o.started_at, dev.sf)`)})
                      FROM device_offline_periods p
                     WHERE p.device_id = o.device_id AND p.started_at < least(o.ended_at, dev.st)
                       AND COALESCE(p.ended_at, 'infinity') > greatest(o.started_at, dev.sf)), 0))
             END AS known_ms,
             CASE WHEN ${planned} THEN 'planned'
                  WHEN (o.started_at AT TIME ZONE ${tzp})::date = ANY(${medp}::date[]) THEN 'majorEvents'
                  ELSE 'main' END AS set
        FROM outages o
        JOIN dev ON dev.id = o.device_id
        JOIN device_lines dl ON dl.device_id = o.device_id AND dl.number = o.line AND dl.enabled
       WHERE o.started_at < dev.st AND (o.ended_at IS NULL OR o.ended_at > dev.sf))
    SELECT gkey, GROUPING(gkey) AS fleet, set, class,
           count(*) FILTER (WHERE starts_in)::int AS count,
           count(*) FILTER (WHERE starts_in AND open)::int AS open_count,
           count(*) FILTER (WHERE carried_in)::int AS carried_in,
           count(known_ms)::int AS with_duration,
           COALESCE(sum(known_ms), 0)::float8 AS total_ms,
           max(known_ms)::float8 AS longest_ms
      FROM oc GROUP BY GROUPING SETS ((gkey, set, class), (set, class))`;

  const [linesRes, outRes] = await Promise.all([pg.query(linesSql, lp.values), pg.query(outagesSql, op.values)]);
  const fleet = newAcc('fleet', null);
  const groups = new Map<string, Acc>();
  const target = (r: { fleet: number; gkey: string | null }) => {
    if (r.fleet === 1) return fleet;
    if (r.gkey === null) return null; // no region/customer: counted in the fleet only
    return groups.get(r.gkey) ?? null;
  };
  for (const r of linesRes.rows) {
    if (r.fleet === 0 && r.gkey !== null && !groups.has(r.gkey)) groups.set(r.gkey, newAcc(r.gkey, r.gname));
    const a = target(r);
    if (!a) continue;
    a.lines = r.lines;
    a.lineMs = r.line_ms;
    a.unknownMs = r.unknown_ms;
  }
  for (const r of outRes.rows) {
    const a = target(r);
    if (!a) continue;
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
