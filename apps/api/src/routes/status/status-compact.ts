/**
 * The fleet view in compact form (GET /api/status/compact): one tuple per device, sized for
 * 10,000 devices in under 1 MB. What makes it small: ids as 22 base64url characters, repeated
 * strings (regions, customers, line labels) as indexes into `strings`, line label sets as
 * indexes into `lineSets`, the 8 lines' states as bit masks that are 0 in the common case
 * (every line reported and powered), activity and voltage level folded into one small
 * number, times as whole seconds before `base` (the dashboard shows seconds), volts to
 * 0.1 V and places to 5 decimals (~1 m), as the dashboard shows them, and trailing
 * defaults left out. status-compact-decode.ts turns a row back into the full /api/status
 * facts (the dashboard has the same rules in apps/web/src/api/compact.ts).
 *
 * Every snapshot records `seq`, the largest domain_events seq its rows reflect (read in the
 * same statement: status-compact-source.ts), and `registry`, a digest of the registry facts
 * it shows for the scope. A delta client's cursor is both: devices named by events after its
 * seq are sent again; a different registry digest (a device added, edited, deleted, moved in
 * or out of the scope, or the caller's scope changed) has no event, so the client reloads.
 */
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { encodePackedRows } from './status-compact-packed.js';
import {
  type CompactSnapshot,
  countDevice,
  Dictionary,
  lineSinceOf,
  NUL,
  nextTurn,
  noCounters,
  registryDigest,
  round,
  SLICE,
  trimDefaults,
} from './status-compact-parts.js';
import { COMPACT_COLUMNS, COMPACT_FORMAT, type CompactCounters, type CompactRow } from './status-compact-schema.js';
import { loadPackedRows, loadSourceRows, type SourceRow, type StatusSource } from './status-compact-source.js';

// The row's fields, their order and meaning: status-compact-schema.ts.
export {
  COMPACT_COLUMNS,
  COMPACT_FORMAT,
  type CompactCounters,
  type CompactRow,
  type CompactSnapshot,
  nextTurn,
  SLICE,
};

/** How the rows are read (STATUS_ENCODER): packed (the default) or rows (the older path). */
export type StatusEncoder = 'packed' | 'rows';

/** 8-4-4-4-12 hex UUID → 22 base64url characters (the SQL makes the rows' own). */
export const compactId = (uuid: string) => Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url');

/** Reads the scope's fleet view (from STATUS_FROM's source) as a compact snapshot. */
export async function loadCompactSnapshot(
  pg: Pool,
  scope: Scope | null,
  source: StatusSource = 'snapshot',
  encoder: StatusEncoder = 'packed',
): Promise<CompactSnapshot> {
  if (encoder === 'packed') {
    const { rows, seq } = await loadPackedRows(pg, scope, source);
    return encodePackedRows(rows, seq);
  }
  const { rows: devices, seq } = await loadSourceRows(pg, scope, source);
  return encodeSnapshot(devices, seq);
}

export async function encodeSnapshot(devices: SourceRow[], seq: number): Promise<CompactSnapshot> {
  const dict = new Dictionary();
  const counters = noCounters();
  let latest = 0;
  for (const d of devices) if (d.last_activity_at !== null && d.last_activity_at > latest) latest = d.last_activity_at;
  const baseS = Math.floor(latest / 1000);
  // The digest's input: the registry's strings joined once (one hash call, not 10,000), fields
  // apart by U+001F as the labels, a row ending in "\n"; its numbers as float64 bytes
  // (formatting 20,000 coordinates as text was most of this loop's time).
  const registry: string[] = [];
  const numbers = new Float64Array(devices.length * 3);
  const rows: CompactRow[] = [];
  for (const d of devices) {
    const i = rows.length;
    if (i % SLICE === SLICE - 1) await nextTurn();
    registry.push(d.id, d.name, d.label ?? NUL, d.region ?? NUL, d.customer ?? NUL, d.labels ?? NUL, '\n');
    numbers[3 * i] = d.latitude ?? Number.NaN;
    numbers[3 * i + 1] = d.longitude ?? Number.NaN;
    numbers[3 * i + 2] = d.disabled ?? Number.NaN;
    rows.push(encodeRow(d, dict, counters, baseS));
  }
  return {
    generatedAt: Date.now(),
    base: baseS * 1000,
    seq,
    registry: registryDigest(registry, numbers),
    strings: dict.strings,
    lineSets: dict.lineSets,
    rows,
    counters,
  };
}

function encodeRow(d: SourceRow, dict: Dictionary, c: CompactCounters, baseS: number): CompactRow {
  const sec = (t: number | null) => (t === null ? null : Math.floor(t / 1000));
  const ago = (t: number | null) => (t === null ? null : baseS - Math.floor(t / 1000));
  const set = dict.lineSet(d.labels);
  const reported = (d.reported ?? 0) & set.mask;
  const unpowered = reported & ~(d.powered ?? 0);
  const outages = d.outages ?? 0;
  const active = (d.state & 1) === 1;
  const known = active ? reported : 0;
  let lineSince: number | (number | null)[] | null = null;
  if (known && d.since) lineSince = lineSinceOf(known, set, d.since, (t) => baseS - Math.floor(t / 1000));
  const last = sec(d.last_activity_at);
  const voltsAt = sec(d.volts_at);
  countDevice(c, d.state, set, known, unpowered, outages);
  const row: CompactRow = [
    d.id,
    d.name,
    dict.str(d.region),
    dict.str(d.customer),
    d.state,
    set.index,
    set.mask & ~reported,
    unpowered,
    ago(d.last_activity_at),
    round(d.volts, 1),
    voltsAt === null ? null : (last ?? baseS) - voltsAt,
    lineSince,
    round(d.latitude, 5),
    round(d.longitude, 5),
    d.label,
    (d.disabled ?? 0) & set.mask,
    outages,
    active ? null : ago(d.inactive_since),
  ];
  return trimDefaults(row);
}
