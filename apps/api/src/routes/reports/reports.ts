/**
 * Reliability reports with the aggregation pushed into PostgreSQL: one query sums lines and
 * offline time per group, one sums outage contributions per group × set × class, and
 * @spms/reliability's computeIndices turns the totals into IEEE 1366 indices. Semantics are
 * those of computeReliability (packages/reliability/README.md): frequency by start, duration
 * by overlap, offline time excluded, planned and major-event outages reported apart.
 * Service points: the enabled lines of each device, in service from the device's creation
 * or its first imported report, whichever is earlier (reports-daily.ts inServiceFrom).
 * Region, customer and enabled lines are those of the device when the report runs.
 *
 * The outage totals come from the rollups (reports-rollup.ts, the default: their sums per
 * region, customer and day where the report allows, else the per-device day rows;
 * REPORTS_FROM=day for the latter only) or from the raw outage rows (reports-raw.ts,
 * REPORTS_FROM=raw): all give the same numbers.
 */
import type { Pool } from '@spms/db';
import { localDay, localDayStart, majorEventThreshold, nextDay } from '@spms/reliability';
import type { Scope } from '../../core/principal.js';
import { hasPlannedTable, plannedExpr } from '../outages/outages-query.js';
import { type GroupBy, type ReliabilityResult, ReportAcc } from './reports-acc.js';
import { dailySaidiSql } from './reports-daily.js';
import { rawOutageTotals } from './reports-raw.js';
import { groupRollupsDirty, rollupOutageTotals, rollupsDirty, rollupZone } from './reports-rollup.js';
import { lineTotals } from './reports-sql.js';

export type { GroupBy, GroupReport, ReliabilityResult, SetReport, Stats } from './reports-acc.js';
/** rollup: the group rows where the request allows, else the day rows; day: the day rows only. */
export type ReportSource = 'raw' | 'rollup' | 'day';

export async function reliabilityReport(
  pg: Pool,
  scope: Scope | null,
  opts: {
    from: Date;
    to: Date;
    groupBy: GroupBy;
    excludeMajorEvents: boolean;
    timeZone: string;
    /** Default 'rollup'; rollups kept in another zone than `timeZone` fall back to raw. */
    source?: ReportSource;
  },
): Promise<ReliabilityResult> {
  const { from, to, groupBy, timeZone } = opts;
  // Rollups in another zone, or with changes inside the period not yet recomputed by the
  // worker's refresher (a storm's last seconds): the raw rows.
  const rollups =
    opts.source !== 'raw' && (await rollupZone(pg)) === timeZone && !(await rollupsDirty(pg, from, to, timeZone));
  // Group rows (per region and customer) serve reports grouped by either, in any scope (a
  // scope is regions and customers); not while some of the days (with major event days, the
  // five years before too) wait for the refresher.
  const historyFrom = opts.excludeMajorEvents ? new Date(from.getTime() - 5 * 366 * 86_400_000) : from;
  const source: 'raw' | 'rollup' | 'group' = !rollups
    ? 'raw'
    : opts.source !== 'day' && groupBy !== 'device' && !(await groupRollupsDirty(pg, historyFrom, to, timeZone))
      ? 'group'
      : 'rollup';
  const present = await hasPlannedTable(pg);
  // The per-outage window test costs a subquery per row: skip it when no window can match.
  const windows = present
    ? (await pg.query('SELECT 1 FROM planned_interruptions WHERE starts_at < $1 LIMIT 1', [to])).rows.length > 0
    : false;
  const planned = plannedExpr(windows, 'o', 'dev');
  let medDays: string[] = [];
  let threshold: number | null = null;
  if (opts.excludeMajorEvents) {
    const med = await majorEventDaysFor(pg, scope, from.getTime(), to.getTime(), timeZone, {
      source,
      planned: plannedExpr(windows),
    });
    medDays = med.days;
    threshold = med.threshold;
  }
  const outageOpts = {
    from,
    to,
    groupBy,
    timeZone,
    planned,
    medDays,
    level: source === 'group' ? 'group' : 'day',
  } as const;
  const [lines, outages] = await Promise.all([
    lineTotals(pg, scope, { from, to, groupBy }),
    source === 'raw' ? rawOutageTotals(pg, scope, outageOpts) : rollupOutageTotals(pg, scope, outageOpts),
  ]);
  const acc = new ReportAcc();
  for (const r of lines) acc.addLines(r);
  for (const r of outages) acc.addOutages(r);
  return acc.result({
    from: from.toISOString(),
    to: to.toISOString(),
    timeZone,
    groupBy,
    excludeMajorEvents: opts.excludeMajorEvents,
    majorEventThresholdMinutes: threshold,
    majorEventDays: medDays,
  });
}

/** IEEE 1366 2.5β: T_MED from the five years of local days before the period, applied to the period's days. */
async function majorEventDaysFor(
  pg: Pool,
  scope: Scope | null,
  fromMs: number,
  toMs: number,
  timeZone: string,
  how: { source: 'raw' | 'rollup' | 'group'; planned: string },
): Promise<{ days: string[]; threshold: number | null }> {
  const fromDay = localDay(fromMs, timeZone);
  const toDay = nextDay(localDay(toMs - 1, timeZone));
  const historyFrom = `${String(Number(fromDay.slice(0, 4)) - 5).padStart(4, '0')}${fromDay.slice(4)}`;
  const daily = await dailySaidiSql(pg, scope, { fromDay: historyFrom, toDay, timeZone, ...how });
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
