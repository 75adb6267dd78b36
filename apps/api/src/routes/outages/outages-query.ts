/**
 * Outage list with keyset pagination on (started_at DESC, id DESC): a page costs the same
 * at the first and at the millionth row. The `planned` flag is decided at query time: an
 * outage is planned when the worker marked it so or when it started inside a planned
 * interruption window for its device or its device's region.
 */
import type { Pool } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

export interface OutageFilters {
  device?: string;
  region?: string;
  customer?: string;
  line?: number;
  from?: string;
  to?: string;
  status?: 'open' | 'closed';
  class?: 'momentary' | 'sustained' | 'pending';
  wholeSite?: boolean;
  utilityFeed?: boolean;
  planned?: boolean;
  source?: 'live' | 'import';
}

export interface OutageItem {
  id: string;
  device: { id: string; name: string };
  region: string | null;
  customer: string | null;
  line: number;
  lineLabel: string | null;
  startedAt: string;
  endedAt: string | null;
  durationMs: number | null;
  unknownMs: number;
  class: 'momentary' | 'sustained' | 'pending';
  wholeSite: boolean;
  utilityFeed: boolean;
  planned: boolean;
  /** 'import': started by imported history (raised no alert); 'live': by SPMS's own data. */
  source: 'live' | 'import';
  startWindow: { from: string; to: string } | null;
  endWindow: { from: string; to: string } | null;
}

// The planned-interruptions table comes from the access-control migration; until it is
// there (or on an older database) only the worker's own flag counts.
const plannedTable = new WeakMap<Pool, { checkedAt: number; present: boolean }>();

export async function hasPlannedTable(pg: Pool): Promise<boolean> {
  const known = plannedTable.get(pg);
  if (known && Date.now() - known.checkedAt < 30_000) return known.present;
  const res = await pg.query<{ t: string | null }>(`SELECT to_regclass('planned_interruptions')::text AS t`);
  const present = res.rows[0]?.t != null;
  plannedTable.set(pg, { checkedAt: Date.now(), present });
  return present;
}

/** SQL boolean: outage `o` (device row `d`) is planned. */
export function plannedExpr(present: boolean, o = 'o', d = 'd'): string {
  if (!present) return `${o}.planned`;
  return `(${o}.planned OR EXISTS (SELECT 1 FROM planned_interruptions pi
            WHERE ${o}.started_at >= pi.starts_at AND ${o}.started_at < pi.ends_at
              AND (pi.device_id = ${o}.device_id OR (pi.device_id IS NULL AND pi.region = ${d}.region))))`;
}

export function encodeCursor(startedAt: Date, id: string): string {
  return Buffer.from(`${startedAt.getTime()}:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { ms: number; id: string } {
  const m = /^(-?\d+):(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new AppError('BAD_REQUEST', 'invalid querystring: cursor is not one this API returned');
  return { ms: Number(m[1]), id: m[2] as string };
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** WHERE clause (devices `d`, outages `o`) for the filters and the scope. */
export function outageWhere(scope: Scope | null, f: OutageFilters, params: SqlParams, planned: string): string {
  const w = [scopeCondition(scope, 'd', params)];
  if (f.device !== undefined) {
    w.push(
      UUID_RE.test(f.device)
        ? `(d.id = ${params.add(f.device)}::uuid OR d.name = ${params.add(f.device)})`
        : `d.name = ${params.add(f.device)}`,
    );
  }
  if (f.region !== undefined) w.push(`d.region = ${params.add(f.region)}`);
  if (f.customer !== undefined) w.push(`d.customer = ${params.add(f.customer)}`);
  if (f.line !== undefined) w.push(`o.line = ${params.add(f.line)}`);
  // Outages overlapping [from, to): an open outage reaches to now.
  if (f.to !== undefined) w.push(`o.started_at < ${params.add(f.to)}::timestamptz`);
  if (f.from !== undefined) w.push(`(o.ended_at IS NULL OR o.ended_at >= ${params.add(f.from)}::timestamptz)`);
  if (f.status === 'open') w.push('o.ended_at IS NULL');
  if (f.status === 'closed') w.push('o.ended_at IS NOT NULL');
  if (f.class !== undefined) w.push(`o.class = ${params.add(f.class)}`);
  if (f.wholeSite !== undefined) w.push(`o.whole_site = ${params.add(f.wholeSite)}`);
  if (f.utilityFeed !== undefined) w.push(`o.utility_feed = ${params.add(f.utilityFeed)}`);
  if (f.planned !== undefined) w.push(f.planned ? planned : `NOT ${planned}`);
  if (f.source !== undefined) w.push(`o.source = ${params.add(f.source)}`);
  return w.join(' AND ');
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const windowOf = (from: Date | null, to: Date | null) =>
  from && to ? { from: from.toISOString(), to: to.toISOString() } : null;

export interface OutagePage {
  items: OutageItem[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export async function listOutages(
  pg: Pool,
  scope: Scope | null,
  filters: OutageFilters,
  page: { cursor?: string; limit: number },
): Promise<OutagePage> {
  const params = new SqlParams();
  const planned = plannedExpr(await hasPlannedTable(pg));
  let where = outageWhere(scope, filters, params, planned);
  if (page.cursor) {
    const c = decodeCursor(page.cursor);
    where += ` AND (o.started_at, o.id) < (${params.add(new Date(c.ms))}::timestamptz, ${params.add(c.id)}::bigint)`;
  }
  const res = await pg.query(
    `SELECT o.id::text AS id, o.device_id, d.name, d.region, d.customer, o.line, dl.label AS line_label,
            o.started_at, o.ended_at, o.duration_ms::float8 AS duration_ms, o.unknown_ms::float8 AS unknown_ms,
            o.class, o.whole_site, o.utility_feed, ${planned} AS planned, o.source,
            o.start_window_from, o.start_window_to, o.end_window_from, o.end_window_to
       FROM outages o
       JOIN devices d ON d.id = o.device_id
       LEFT JOIN device_lines dl ON dl.device_id = o.device_id AND dl.number = o.line
      WHERE ${where}
      ORDER BY o.started_at DESC, o.id DESC
      LIMIT ${params.add(page.limit + 1)}`,
    params.values,
  );
  const rows = res.rows.slice(0, page.limit);
  const items: OutageItem[] = rows.map((r) => ({
    id: r.id,
    device: { id: r.device_id, name: r.name },
    region: r.region,
    customer: r.customer,
    line: r.line,
    lineLabel: r.line_label,
    startedAt: r.started_at.toISOString(),
    endedAt: iso(r.ended_at),
    durationMs: r.duration_ms,
    unknownMs: r.unknown_ms,
    class: r.class,
    wholeSite: r.whole_site,
    utilityFeed: r.utility_feed,
    planned: r.planned,
    source: r.source,
    startWindow: windowOf(r.start_window_from, r.start_window_to),
    endWindow: windowOf(r.end_window_from, r.end_window_to),
  }));
  const last = rows[rows.length - 1];
  return {
    items,
    nextCursor: res.rows.length > page.limit && last ? encodeCursor(last.started_at, last.id) : null,
  };
}
