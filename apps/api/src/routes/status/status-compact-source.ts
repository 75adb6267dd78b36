/**
 * Where the compact fleet view's rows come from (STATUS_FROM):
 *   snapshot (default) — device_status_rows, kept current by the worker in the same
 *     transaction as each change (migration 20261203000200): a read of 10,000 narrow rows;
 *   compute — the view computed from device_state, device_lines, line_state and the open
 *     outages on every read (the join and grouping of 80,000 line rows): kept for
 *     comparison (bench) and as a fallback.
 * Both give the same rows; the seq comes from the same statement (one MVCC snapshot), so
 * the rows hold exactly the events up to it: events are numbered in commit order under one
 * lock (apps/worker/src/outbox.ts), so a snapshot that sees seq N sees every event below N
 * and no writer can commit a smaller one later.
 */
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import { ACTIVE_SQL } from './status.js';

export type StatusSource = 'snapshot' | 'compute';

/** One device as both sources give it; times in epoch ms. */
export interface SourceRow {
  /** the UUID's 16 bytes as 22 base64url characters (made by PostgreSQL: cheaper than here) */
  id: string;
  name: string;
  label: string | null;
  latitude: number | null;
  longitude: number | null;
  region: string | null;
  customer: string | null;
  /** bit 0 active, bits 1-2 connection, bits 3-5 voltage level (status-compact.ts COMPACT_COLUMNS) */
  state: number;
  last_activity_at: number | null;
  inactive_since: number | null;
  volts: number | null;
  volts_at: number | null;
  /** "n:label" by line number, in line order, joined with U+001F */
  labels: string | null;
  reported: number | null;
  powered: number | null;
  disabled: number | null;
  outages: number | null;
  /** since (epoch ms) of each line in `labels` order, NULL where never reported, as
   *  PostgreSQL's array text ("{1767000000000,NULL}"): split here, faster than pg's array parser */
  since: string | null;
  /** max(domain_events.seq) in the statement's snapshot (text: bigint) */
  seq: string | null;
}

// date_part is float8 (extract is numeric since PostgreSQL 14: slower on 80,000 rows); round() makes it whole ms.
const ms = (col: string) => `round(date_part('epoch', ${col}) * 1000)`;
const bit = (cond: string) => `bit_or(CASE WHEN ${cond} THEN 1 << (dl.number - 1) ELSE 0 END)`;
const SEQ = '(SELECT max(seq)::text FROM domain_events) AS seq';
const REGISTRY = `rtrim(translate(encode(uuid_send(d.id), 'base64'), '+/', '-_'), '=') AS id,
  d.name, d.label, d.latitude, d.longitude, d.region, d.customer`;
/** The state code of a row (alias: its device_state or snapshot row). */
const STATE = (active: string, a: string) => `(CASE WHEN ${active} THEN 1 ELSE 0 END)
  | (CASE ${a}.connection WHEN 'connected' THEN 2 WHEN 'lost' THEN 4 ELSE 0 END)
  | (CASE ${a}.volts_level WHEN 'normal' THEN 8 WHEN 'under' THEN 16 WHEN 'over' THEN 24 WHEN 'absent' THEN 32 ELSE 0 END)`;

// ACTIVE_SQL (status.ts) on the snapshot row: the stored flag, re-checked against the timeout.
const ACTIVE_SNAPSHOT = `COALESCE(r.active, false)
    AND r.last_activity_at + make_interval(secs => COALESCE(d.inactivity_timeout_sec, p.inactivity_timeout_sec)) > now()`;

// The device registry is joined in both; lines come from the snapshot row or the line tables.
// Each source is a FROM clause and the expressions of its columns (`since` as float8[]).
interface SourceSql {
  from: string;
  state: string;
  lastActivityAt: string;
  inactiveSince: string;
  volts: string;
  voltsAt: string;
  labels: string;
  reported: string;
  powered: string;
  disabled: string;
  outages: string;
  since: string;
}

const SNAPSHOT = (where: string): SourceSql => ({
  from: `devices d
    JOIN device_profiles p ON p.id = d.profile_id
    LEFT JOIN device_status_rows r ON r.device_id = d.id
   WHERE ${where}`,
  state: STATE(ACTIVE_SNAPSHOT, 'r'),
  lastActivityAt: 'r.last_activity_at',
  inactiveSince: 'r.inactive_since',
  volts: 'r.volts',
  voltsAt: 'r.volts_at',
  labels: 'r.line_labels',
  reported: 'r.lines_reported',
  powered: 'r.lines_powered',
  disabled: 'r.lines_disabled',
  outages: 'r.lines_outage',
  since: 'r.line_since',
});

const COMPUTE = (whereD: string, whereD2: string): SourceSql => ({
  from: `devices d
    JOIN device_profiles p ON p.id = d.profile_id
    LEFT JOIN device_state s ON s.device_id = d.id
    LEFT JOIN (
      SELECT dl.device_id,
             string_agg(dl.number || ':' || dl.label, E'\\x1f' ORDER BY dl.number) AS labels,
             ${bit('ls.powered IS NOT NULL')} AS reported, ${bit('ls.powered')} AS powered,
             ${bit('NOT dl.enabled')} AS disabled, ${bit('o.device_id IS NOT NULL')} AS outages,
             array_agg(${ms('ls.since')} ORDER BY dl.number) AS since
        FROM device_lines dl
        JOIN devices d2 ON d2.id = dl.device_id
        LEFT JOIN line_state ls ON ls.device_id = dl.device_id AND ls.line = dl.number
        LEFT JOIN (SELECT DISTINCT device_id, line FROM outages WHERE ended_at IS NULL) o
          ON o.device_id = dl.device_id AND o.line = dl.number
       WHERE ${whereD2}
       GROUP BY dl.device_id) l ON l.device_id = d.id
   WHERE ${whereD}`,
  state: STATE(ACTIVE_SQL, 's'),
  lastActivityAt: 's.last_activity_at',
  inactiveSince: 's.inactive_since',
  volts: 's.volts',
  voltsAt: 's.volts_at',
  labels: 'l.labels',
  reported: 'l.reported',
  powered: 'l.powered',
  disabled: 'l.disabled',
  outages: 'l.outages',
  since: 'l.since',
});

/** One row per device, as pg parses them (STATUS_ENCODER=rows: the older path). */
const ROWS_SQL = (q: SourceSql) => `
  SELECT ${REGISTRY}, ${q.state} AS state, ${ms(q.lastActivityAt)} AS last_activity_at,
         ${ms(q.inactiveSince)} AS inactive_since, ${q.volts} AS volts, ${ms(q.voltsAt)} AS volts_at,
         ${q.labels} AS labels, ${q.reported} AS reported, ${q.powered} AS powered,
         ${q.disabled} AS disabled, ${q.outages} AS outages, ${q.since}::text AS since, ${SEQ}
    FROM ${q.from}
   ORDER BY d.name COLLATE "C"`;

const sourceSql = (scope: Scope | null, source: StatusSource, p: SqlParams): SourceSql =>
  source === 'snapshot'
    ? SNAPSHOT(scopeCondition(scope, 'd', p))
    : COMPUTE(scopeCondition(scope, 'd', p), scopeCondition(scope, 'd2', p));

/** The scope's devices and the seq they reflect, in one statement. */
export async function loadSourceRows(
  pg: Pool,
  scope: Scope | null,
  source: StatusSource,
): Promise<{ rows: SourceRow[]; seq: number }> {
  const p = new SqlParams();
  const res = await pg.query<SourceRow>(ROWS_SQL(sourceSql(scope, source, p)), p.values);
  let seq = res.rows[0]?.seq;
  // No device in scope: no row to carry the seq (nothing to be consistent with either).
  if (seq === undefined) seq = (await pg.query<{ seq: string | null }>(`SELECT ${SEQ}`)).rows[0]?.seq ?? null;
  return { rows: res.rows, seq: Number(seq ?? 0) };
}

/** Whole seconds of a time as the rows path computes them (Math.floor(ms / 1000) of its ms;
 *  float8, as the ms are: an infinite time is Infinity, not an error). */
const sec = (col: string) => `floor(${ms(col)} / 1000)`;
/** Every line holds its state since the same instant (the common case). */
const ALL_SAME = (since: string) => `cardinality(${since}) > 0 AND ${since}[1] = ALL(${since})`;

/** A device as STATUS_ENCODER=packed reads it (pg's array row mode, PACKED_SQL's columns). */
export type PackedRow = [
  id: string,
  name: string,
  label: string | null,
  latitude: number | null,
  longitude: number | null,
  region: string | null,
  customer: string | null,
  volts: number | null,
  labels: string | null,
  /** PACKED_NUMBERS, comma-separated, an empty place for null */
  numbers: string,
  /** the since array's text, only when its lines do not all share one since */
  since: string | null,
];
/** The integers of PackedRow's `numbers`, in order (times in whole seconds). */
export const PACKED_NUMBERS = [
  'state',
  'lastActivityAt',
  'inactiveSince',
  'voltsAt',
  'reported',
  'powered',
  'disabled',
  'outages',
  'since',
  'seq',
] as const;

/**
 * The same facts as ROWS_SQL in 11 fields instead of 19 (STATUS_ENCODER=packed): the integers
 * (state, masks, times as whole seconds, the seq) packed into one text the API scans without
 * making a string per value, and the since array sent only when its lines differ (else its one
 * value, in seconds). pg's parsing of 190,000 fields, one string each, was most of the API's
 * time after PostgreSQL's; the array text of 10,000 since arrays was a fifth of PostgreSQL's.
 */
const PACKED_SQL = (q: SourceSql) => {
  const same = ALL_SAME(q.since);
  const numbers = [
    `${q.state}`,
    sec(q.lastActivityAt),
    sec(q.inactiveSince),
    sec(q.voltsAt),
    q.reported,
    q.powered,
    q.disabled,
    q.outages,
    `CASE WHEN ${same} THEN floor(${q.since}[1] / 1000) END`,
    '(SELECT max(seq) FROM domain_events)',
  ];
  return `
  SELECT ${REGISTRY}, ${q.volts} AS volts, ${q.labels} AS labels,
         concat(${numbers.join(", ',', ")}) AS numbers,
         CASE WHEN ${same} THEN NULL ELSE ${q.since}::text END AS since
    FROM ${q.from}
   ORDER BY d.name COLLATE "C"`;
};

/** The scope's devices as PackedRows and the seq they reflect, in one statement. */
export async function loadPackedRows(
  pg: Pool,
  scope: Scope | null,
  source: StatusSource,
): Promise<{ rows: PackedRow[]; seq: number | null }> {
  const p = new SqlParams();
  const res = await pg.query<PackedRow>({
    text: PACKED_SQL(sourceSql(scope, source, p)),
    values: p.values,
    rowMode: 'array',
  });
  if (res.rows.length > 0) return { rows: res.rows, seq: null }; // the seq is in each row's numbers
  const empty = await pg.query<{ seq: string | null }>(`SELECT ${SEQ}`);
  return { rows: [], seq: Number(empty.rows[0]?.seq ?? 0) };
}

/**
 * A fingerprint of everything the scope's compact view is made of, far cheaper than the view
 * (a pass over 10,000 narrow rows without formatting any of them, ~20 ms at 10,000 devices
 * against ~200 ms to read and encode the view): the event seq, the devices in scope, how many
 * are active now (a device falls inactive by time alone, with no write), and the row versions
 * (xmin: every committed write of a row gives it a later transaction id) of their registry,
 * snapshot and profile rows. Equal fingerprints mean an equal view, so a cached answer is kept
 * (same body, same ETag) instead of rebuilt. Read before the rows it is stored with: it can
 * only be older than them (one needless rebuild), never newer (a missed change).
 */
export async function loadViewFingerprint(pg: Pool, scope: Scope | null): Promise<string> {
  const p = new SqlParams();
  const res = await pg.query<{ fp: string }>(
    `SELECT concat_ws('.', COALESCE((SELECT max(seq) FROM domain_events), 0), count(*),
                      count(*) FILTER (WHERE ${ACTIVE_SNAPSHOT}),
                      COALESCE(sum(d.xmin::text::bigint), 0), COALESCE(sum(r.xmin::text::bigint), 0),
                      COALESCE(sum(p.xmin::text::bigint), 0)) AS fp
       FROM devices d
       JOIN device_profiles p ON p.id = d.profile_id
       LEFT JOIN device_status_rows r ON r.device_id = d.id
      WHERE ${scopeCondition(scope, 'd', p)}`,
    p.values,
  );
  return res.rows[0]?.fp ?? '';
}
