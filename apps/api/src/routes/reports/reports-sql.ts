/** SQL pieces both report paths share: the devices in scope with their service span, and line totals. */
import { type Pool, withTransaction } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import type { GroupBy, LineRow } from './reports-acc.js';

export const ms = (e: string) => `(extract(epoch FROM ${e}) * 1000)::float8`;

/**
 * A read-only query with JIT off: the planner's cost estimates for a year's aggregate cross
 * PostgreSQL's JIT threshold, and compiling took ~0.6 s of a report (measured at 10,000 devices).
 */
export function reportQuery(pg: Pool, sql: string, values: unknown[]) {
  return withTransaction(pg, async (tx) => {
    await tx.query('SET LOCAL jit = off');
    return tx.query(sql, values);
  });
}

/** Per-device service span: [max(from, in service), to) and its enabled lines (count and bit mask). */
export function devCte(
  scope: Scope | null,
  p: SqlParams,
  from: string,
  to: string,
  groupBy: GroupBy,
  extra = '',
  name = 'dev',
): string {
  const gkey = groupBy === 'device' ? 'd.id::text' : `d.${groupBy}`;
  return `${name} AS MATERIALIZED (
    SELECT d.id, ${gkey} AS gkey, ${groupBy === 'device' ? 'd.name' : 'NULL::text'} AS gname, d.region,
           greatest(${from}::timestamptz, least(d.created_at, h.first_report_at)) AS sf, ${to}::timestamptz AS st,
           COALESCE(l.lines, 0)::int AS n, COALESCE(l.mask, 0) AS mask${extra}
      FROM devices d
      -- in service from its registration or its first imported report (reports-daily.ts
      -- inServiceFrom), as a join: a sub-select per device cost ~10^4 probes a report
      LEFT JOIN device_history_imports h ON h.device_id = d.id
      -- enabled lines, kept per device by the device_lines triggers (migration 20261203001400)
      LEFT JOIN device_line_masks l ON l.device_id = d.id
     WHERE ${scopeCondition(scope, 'd', p)} AND least(d.created_at, h.first_report_at) < ${to}::timestamptz)`;
}

/**
 * N_T, line-time and unknown (offline) line-time per group: every enabled line of a device
 * in service in the period counts its in-service time, less the device's offline time in it.
 */
export async function lineTotals(
  pg: Pool,
  scope: Scope | null,
  opts: { from: Date; to: Date; groupBy: GroupBy },
): Promise<LineRow[]> {
  const lp = new SqlParams();
  const lf = lp.add(opts.from);
  const lt = lp.add(opts.to);
  const res = await reportQuery(
    pg,
    `WITH ${devCte(scope, lp, lf, lt, opts.groupBy)},
    unk AS (
      SELECT p.device_id, sum(${ms(`least(COALESCE(p.ended_at, 'infinity'), dev.st) - greatest(p.started_at, dev.sf)`)}) AS ms
        FROM device_offline_periods p JOIN dev ON dev.id = p.device_id
       WHERE p.started_at < dev.st AND COALESCE(p.ended_at, 'infinity') > dev.sf
       GROUP BY p.device_id)
    SELECT dev.gkey, max(dev.gname) AS gname, sum(dev.n)::float8 AS lines,
           sum(dev.n * ${ms('dev.st - dev.sf')})::float8 AS line_ms, sum(dev.n * COALESCE(unk.ms, 0))::float8 AS unknown_ms
      FROM dev LEFT JOIN unk ON unk.device_id = dev.id
     WHERE dev.n > 0
     GROUP BY dev.gkey`,
    lp.values,
  );
  return res.rows;
}
