/**
 * The fleet view in compact form (GET /api/status/compact): one tuple per device, repeated
 * strings (regions, customers, line labels, voltage levels) replaced by indexes into
 * `strings`, the lines as bit masks, times as epoch ms. About a tenth of the full
 * /api/status body for the same facts (status-compact-decode.ts turns it back).
 *
 * Every snapshot records `seq`, the largest domain_events seq committed before its rows were
 * read (the worker writes state and events in one transaction, so the rows reflect every
 * event up to it), and `registry`, a digest of the registry facts it shows for the scope
 * (ids, names, labels, places, regions, customers, line labels). A delta client's cursor is
 * both: devices named by events after its seq are sent again; a different registry digest
 * (a device added, edited, deleted, moved in or out of the scope, or the caller's scope
 * changed) has no event, so the client is told to reload.
 */
import { createHash } from 'node:crypto';
import type { Pool } from '@spms/db';
import type { Scope } from '../plugins/auth.js';
import { SqlParams, scopeCondition } from './scope.js';
import { ACTIVE_SQL } from './status.js';

export const COMPACT_FORMAT = 'spms.status.compact/1';

/**
 * Tuple positions of a row (also sent as `columns`). Times are milliseconds before the
 * body's `base` (epoch ms: the latest activity in the snapshot), so recent ones are short.
 * Rarely set fields come last, and trailing fields at their default (null, or 0 for the
 * masks) are left out: a row may be shorter than the column list.
 */
export const COMPACT_COLUMNS = [
  'id',
  'name',
  /** index into strings, or null */
  'region',
  'customer',
  /** bit 0: active; bits 1-2: connection (0 disconnected, 1 connected, 2 lost) */
  'state',
  /** index into lineSets: the line labels (as string indexes) by line number, null where no line */
  'lineSet',
  /** bit n-1 set: line n has reported at least once */
  'reported',
  /** bit n-1 set: the last report of line n was "powered" */
  'powered',
  'volts',
  'voltsLevel',
  'lastActivityAt',
  'voltsAt',
  /** since when known lines hold their state: null (no known line), one time (all the same),
   *  or an array by line number (null for lines not known) */
  'lineSince',
  'lat',
  'lon',
  'label',
  /** bit n-1 set: line n is not monitored */
  'disabled',
  /** bit n-1 set: an outage is open on line n (openOutages = number of bits) */
  'outages',
  /** set only while inactive */
  'inactiveSince',
] as const;

/** A row with every field (see COMPACT_COLUMNS); sent with its trailing defaults cut. */
export type CompactRow = [
  id: string,
  name: string,
  region: number | null,
  customer: number | null,
  state: number,
  lineSet: number,
  reported: number,
  powered: number,
  volts: number | null,
  voltsLevel: number | null,
  lastActivityAt: number | null,
  voltsAt: number | null,
  lineSince: number | (number | null)[] | null,
  lat?: number | null,
  lon?: number | null,
  label?: string | null,
  disabled?: number,
  outages?: number,
  inactiveSince?: number | null,
];

export interface CompactCounters {
  devices: number;
  active: number;
  inactive: number;
  connectionLost: number;
  linesWithoutPower: number;
  linesUnknown: number;
  openOutages: number;
}

export interface CompactSnapshot {
  generatedAt: number;
  /** Epoch ms the row times count back from. */
  base: number;
  seq: number;
  registry: string;
  strings: string[];
  lineSets: (number | null)[][];
  rows: CompactRow[];
  counters: CompactCounters;
}

// date_part is float8 (extract is numeric since PostgreSQL 14: slower on 80,000 rows); round() makes it whole ms.
const ms = (col: string) => `round(date_part('epoch', ${col}) * 1000)`;
const CONNECTION: Record<string, number> = { disconnected: 0, connected: 1, lost: 2 };

interface DeviceRow {
  id: string;
  name: string;
  label: string | null;
  latitude: number | null;
  longitude: number | null;
  region: string | null;
  customer: string | null;
  active: boolean;
  connection: string;
  last_activity_at: number | null;
  inactive_since: number | null;
  volts: number | null;
  volts_at: number | null;
  volts_level: string | null;
  /** "n:label" by line number, joined with U+001F */
  labels: string | null;
  reported: number | null;
  powered: number | null;
  disabled: number | null;
  outages: number | null;
  /** the one since of every reported line, when they all share it */
  since_one: number | null;
  /** "n:ms" of reported lines when their since differ */
  sinces: string | null;
}

const SEP = '\u001f';

/** Interns strings and line label sets so each is sent once. */
class Dictionary {
  readonly strings: string[] = [];
  readonly lineSets: (number | null)[][] = [];
  private readonly index = new Map<string, number>();
  private readonly sets = new Map<string, number>();
  str(s: string | null): number | null {
    if (s === null) return null;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.push(s) - 1;
      this.index.set(s, i);
    }
    return i;
  }
  /** Index of a label set given as the SQL "n:label" list (parsed once per distinct list). */
  lineSet(labels: string | null): number {
    const key = labels ?? '';
    let i = this.sets.get(key);
    if (i === undefined) {
      const set: (number | null)[] = [];
      for (const part of key ? key.split(SEP) : []) {
        const colon = part.indexOf(':');
        const n = Number(part.slice(0, colon));
        while (set.length < n) set.push(null);
        set[n - 1] = this.str(part.slice(colon + 1));
      }
      // The SQL list comes in no set order: the same labels in another order are the same set.
      const canonical = `\u0000${set.join(',')}`;
      i = this.sets.get(canonical) ?? this.lineSets.push(set) - 1;
      this.sets.set(canonical, i);
      this.sets.set(key, i);
    }
    return i;
  }
}

const popcount = (n: number) => {
  let c = 0;
  for (let m = n; m; m &= m - 1) c += 1;
  return c;
};
const bit = (cond: string) => `bit_or(CASE WHEN ${cond} THEN 1 << (dl.number - 1) ELSE 0 END)`;

/**
 * Reads the scope's fleet view as a compact snapshot: the seq, then one row per device with
 * its lines folded into masks by PostgreSQL (10,000 rows to parse here instead of 90,000).
 */
export async function loadCompactSnapshot(pg: Pool, scope: Scope | null): Promise<CompactSnapshot> {
  // First the seq, then the rows: whatever committed up to seq is in the rows.
  const seqRes = await pg.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM domain_events');
  const seq = Number(seqRes.rows[0]?.seq ?? 0);
  const p = new SqlParams();
  const reportedSince = 'ls.since) FILTER (WHERE ls.powered IS NOT NULL';
  const devices = await pg.query<DeviceRow>(
    `SELECT d.id, d.name, d.label, d.latitude, d.longitude, d.region, d.customer, ${ACTIVE_SQL} AS active,
            COALESCE(s.connection, 'disconnected') AS connection, ${ms('s.last_activity_at')} AS last_activity_at,
            ${ms('s.inactive_since')} AS inactive_since, s.volts, ${ms('s.volts_at')} AS volts_at, s.volts_level,
            l.labels, l.reported, l.powered, l.disabled, l.outages, l.since_one, l.sinces
       FROM devices d
       JOIN device_profiles p ON p.id = d.profile_id
       LEFT JOIN device_state s ON s.device_id = d.id
       LEFT JOIN (
         SELECT dl.device_id,
                string_agg(dl.number || ':' || dl.label, E'\\x1f') AS labels,
                ${bit('ls.powered IS NOT NULL')} AS reported, ${bit('ls.powered')} AS powered,
                ${bit('NOT dl.enabled')} AS disabled, ${bit('o.device_id IS NOT NULL')} AS outages,
                CASE WHEN min(${reportedSince}) = max(${reportedSince}) THEN ${ms(`min(${reportedSince})`)} END AS since_one,
                CASE WHEN min(${reportedSince}) <> max(${reportedSince})
                     THEN string_agg(dl.number || ':' || ${ms('ls.since')}, ',')
                            FILTER (WHERE ls.powered IS NOT NULL) END AS sinces
           FROM device_lines dl
           JOIN devices d2 ON d2.id = dl.device_id
           LEFT JOIN line_state ls ON ls.device_id = dl.device_id AND ls.line = dl.number
           LEFT JOIN (SELECT DISTINCT device_id, line FROM outages WHERE ended_at IS NULL) o
             ON o.device_id = dl.device_id AND o.line = dl.number
          WHERE ${scopeCondition(scope, 'd2', p)}
          GROUP BY dl.device_id) l ON l.device_id = d.id
      WHERE ${scopeCondition(scope, 'd', p)}
      ORDER BY d.name`,
    p.values,
  );
  const dict = new Dictionary();
  const digest = createHash('sha256');
  const counters: CompactCounters = {
    devices: 0,
    active: 0,
    inactive: 0,
    connectionLost: 0,
    linesWithoutPower: 0,
    linesUnknown: 0,
    openOutages: 0,
  };
  let base = 0;
  for (const d of devices.rows) if (d.last_activity_at !== null && d.last_activity_at > base) base = d.last_activity_at;
  const rows = devices.rows.map((d) => {
    digest.update(JSON.stringify([d.id, d.name, d.label, d.latitude, d.longitude, d.region, d.customer]));
    digest.update(`${d.labels}${SEP}${d.disabled}\n`);
    return encodeRow(d, dict, counters, base);
  });
  return {
    generatedAt: Date.now(),
    base,
    seq,
    registry: digest.digest('base64url'),
    strings: dict.strings,
    lineSets: dict.lineSets,
    rows,
    counters,
  };
}

function encodeRow(d: DeviceRow, dict: Dictionary, c: CompactCounters, base: number): CompactRow {
  const ago = (t: number | null) => (t === null ? null : base - t);
  const lineSet = dict.lineSet(d.labels);
  const lines = dict.lineSets[lineSet] ?? [];
  const reported = d.reported ?? 0;
  const powered = d.powered ?? 0;
  const outages = d.outages ?? 0;
  const known = d.active ? reported : 0;
  let lineSince: CompactRow[12] = null;
  if (known && d.sinces === null) lineSince = ago(d.since_one);
  else if (known && d.sinces !== null) {
    const list: (number | null)[] = lines.map(() => null);
    for (const pair of d.sinces.split(',')) {
      const colon = pair.indexOf(':');
      list[Number(pair.slice(0, colon)) - 1] = ago(Number(pair.slice(colon + 1)));
    }
    lineSince = list;
  }
  c.devices += 1;
  if (d.active) c.active += 1;
  else c.inactive += 1;
  if (d.connection === 'lost') c.connectionLost += 1;
  c.openOutages += popcount(outages);
  c.linesUnknown += lines.filter((l) => l !== null).length - popcount(known);
  c.linesWithoutPower += popcount(known & ~powered);
  const row: CompactRow = [
    d.id,
    d.name,
    dict.str(d.region),
    dict.str(d.customer),
    (d.active ? 1 : 0) | ((CONNECTION[d.connection] ?? 0) << 1),
    lineSet,
    reported,
    powered,
    d.volts,
    dict.str(d.volts_level),
    ago(d.last_activity_at),
    ago(d.volts_at),
    lineSince,
    d.latitude,
    d.longitude,
    d.label,
    d.disabled ?? 0,
    outages,
    d.active ? null : ago(d.inactive_since),
  ];
  // Trailing defaults say nothing: cut them (most devices have no label, outage or disabled line).
  let n = row.length;
  while (n > 13 && (row[n - 1] === null || row[n - 1] === 0)) n -= 1;
  row.length = n;
  return row;
}
