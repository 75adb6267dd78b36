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
import { createHash } from 'node:crypto';
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import {
  COMPACT_COLUMNS,
  COMPACT_FORMAT,
  COMPACT_REQUIRED,
  type CompactCounters,
  type CompactRow,
} from './status-compact-schema.js';
import {
  loadPackedRows,
  loadSourceRows,
  PACKED_NUMBERS,
  type PackedRow,
  type SourceRow,
  type StatusSource,
} from './status-compact-source.js';

// The row's fields, their order and meaning: status-compact-schema.ts.
export { COMPACT_COLUMNS, COMPACT_FORMAT, type CompactCounters, type CompactRow };

export interface CompactSnapshot {
  generatedAt: number;
  /** Epoch ms (a whole second) the row times count back from, in seconds. */
  base: number;
  seq: number;
  registry: string;
  strings: string[];
  lineSets: (number | null)[][];
  rows: CompactRow[];
  counters: CompactCounters;
}

/** How the rows are read (STATUS_ENCODER): packed (the default) or rows (the older path). */
export type StatusEncoder = 'packed' | 'rows';

const SEP = '\u001f';
/** Stands for null in the registry digest (not the empty string). */
const NUL = '\u0000';

/** 8-4-4-4-12 hex UUID → 22 base64url characters (the SQL makes the rows' own). */
export const compactId = (uuid: string) => Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url');

interface LineSet {
  index: number;
  /** line numbers in label order (the order of the source's `since` list) */
  numbers: number[];
  /** bit n-1 set for every line of the set */
  mask: number;
}

/** Interns strings and line label sets so each is sent once. */
class Dictionary {
  readonly strings: string[] = [];
  readonly lineSets: (number | null)[][] = [];
  private readonly index = new Map<string, number>();
  private readonly sets = new Map<string, LineSet>();
  str(s: string | null): number | null {
    if (s === null) return null;
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.push(s) - 1;
      this.index.set(s, i);
    }
    return i;
  }
  /** The label set given as the SQL "n:label" list in line order (parsed once per distinct list). */
  lineSet(labels: string | null): LineSet {
    const key = labels ?? '';
    let found = this.sets.get(key);
    if (!found) {
      const set: (number | null)[] = [];
      const numbers: number[] = [];
      let mask = 0;
      for (const part of key ? key.split(SEP) : []) {
        const colon = part.indexOf(':');
        const n = Number(part.slice(0, colon));
        while (set.length < n) set.push(null);
        set[n - 1] = this.str(part.slice(colon + 1));
        numbers.push(n);
        mask |= 1 << (n - 1);
      }
      found = { index: this.lineSets.push(set) - 1, numbers, mask };
      this.sets.set(key, found);
    }
    return found;
  }
}

const popcount = (n: number) => {
  let c = 0;
  for (let m = n; m; m &= m - 1) c += 1;
  return c;
};
const round = (v: number | null, digits: number) => {
  if (v === null) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

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

const noCounters = (): CompactCounters => ({
  devices: 0,
  active: 0,
  inactive: 0,
  connectionLost: 0,
  linesWithoutPower: 0,
  linesUnknown: 0,
  openOutages: 0,
});

/** Counts a device in the counters (its known lines: reported, and the device active). */
function countDevice(
  c: CompactCounters,
  state: number,
  set: LineSet,
  known: number,
  unpowered: number,
  outages: number,
) {
  c.devices += 1;
  if ((state & 1) === 1) c.active += 1;
  else c.inactive += 1;
  if (((state >> 1) & 3) === 2) c.connectionLost += 1;
  c.openOutages += popcount(outages);
  c.linesUnknown += set.numbers.length - popcount(known);
  c.linesWithoutPower += popcount(known & unpowered);
}

/** The registry digest: its strings joined once (fields apart by U+001F), then its numbers. */
const registryDigest = (registry: string[], numbers: Float64Array) =>
  createHash('sha256').update(registry.join(SEP)).update(new Uint8Array(numbers.buffer)).digest('base64url');

/** Rows encoded between two turns of the event loop: a rebuild never holds up the requests
 *  the cache answers meanwhile for more than a few milliseconds. */
export const SLICE = 1000;
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

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

/** lineSince of a device with known lines from its since array's text (ms, `since` order). */
function lineSinceOf(
  known: number,
  set: LineSet,
  sinceText: string,
  ago: (ms: number) => number,
): number | (number | null)[] | null {
  // Compared as text first: nearly always every line holds its state since the same instant.
  const since = sinceText.slice(1, -1).split(',');
  let first: string | undefined;
  let same = true;
  set.numbers.forEach((n, i) => {
    if (!(known & (1 << (n - 1)))) return;
    if (first === undefined) first = since[i];
    else if (since[i] !== first) same = false;
  });
  const agoOf = (v: string | undefined) => (v === undefined || v === 'NULL' ? null : ago(Number(v)));
  if (same) return agoOf(first);
  const byLine: (number | null)[] = [];
  set.numbers.forEach((n, i) => {
    while (byLine.length < n) byLine.push(null);
    if (known & (1 << (n - 1))) byLine[n - 1] = agoOf(since[i]);
  });
  // Since that differ by less than a second are the same in seconds: one number then too.
  const values = new Set(byLine.filter((v) => v !== null));
  return values.size === 1 ? ([...values][0] as number) : byLine;
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
  // Trailing defaults say nothing: cut them (most devices have no label, outage or disabled line).
  let n = row.length;
  while (n > COMPACT_REQUIRED && (row[n - 1] === null || row[n - 1] === 0)) n -= 1;
  row.length = n;
  return row;
}

// ---- STATUS_ENCODER=packed (status-compact-source.ts PACKED_SQL): the same snapshot, cheaper

const N = PACKED_NUMBERS.length;
const at = (name: (typeof PACKED_NUMBERS)[number]) => PACKED_NUMBERS.indexOf(name);
const STATE = at('state');
const LAST = at('lastActivityAt');
const INACTIVE = at('inactiveSince');
const VOLTS_AT = at('voltsAt');
const REPORTED = at('reported');
const POWERED = at('powered');
const DISABLED = at('disabled');
const OUTAGES = at('outages');
const SINCE = at('since');
const SEQ = at('seq');

/** Reads a row's packed numbers into `out` from `at` (NaN for null). Integers (nearly all) are
 *  read without making a string; anything else PostgreSQL may write for a float8 ("Infinity",
 *  "1e+15") as pg would parse it. */
function unpack(text: string, out: Float64Array, at: number): void {
  const end = at + N;
  let i = 0;
  for (let k = at; k < end; k++) {
    const start = i;
    let c = text.charCodeAt(i);
    if (c === 0x2c || Number.isNaN(c)) {
      out[k] = Number.NaN;
      i += 1;
      continue;
    }
    const negative = c === 0x2d;
    if (negative) c = text.charCodeAt(++i);
    let n = 0;
    while (c >= 0x30 && c <= 0x39) {
      n = n * 10 + (c - 0x30);
      c = text.charCodeAt(++i);
    }
    if (c === 0x2c || Number.isNaN(c)) out[k] = negative ? -n : n;
    else {
      i = text.indexOf(',', start);
      if (i < 0) i = text.length;
      out[k] = Number.parseFloat(text.slice(start, i));
    }
    i += 1;
  }
}

const orNull = (v: number) => (Number.isNaN(v) ? null : v);

/**
 * encodeSnapshot's snapshot from PackedRows: the same rows, dictionaries (interned in the same
 * order), counters, base and registry digest — the answer is byte for byte the same. Times
 * arrive as whole seconds (what encodeRow makes of the ms), the integers unpacked into one
 * typed array (a first pass, which also finds the base), and no closure is made per row.
 */
export async function encodePackedRows(devices: PackedRow[], emptySeq: number | null): Promise<CompactSnapshot> {
  const dict = new Dictionary();
  const c = noCounters();
  const ints = new Float64Array(devices.length * N);
  let latest = 0; // as encodeSnapshot: the latest activity's second, 0 when none after 1970
  for (let i = 0; i < devices.length; i++) {
    unpack((devices[i] as PackedRow)[9], ints, i * N);
    const last = ints[i * N + LAST] as number;
    if (last > latest) latest = last;
  }
  const baseS = latest;
  const registry: string[] = [];
  const numbers = new Float64Array(devices.length * 3);
  const rows: CompactRow[] = [];
  for (let i = 0; i < devices.length; i++) {
    if (i % SLICE === SLICE - 1) await nextTurn();
    const [id, name, label, latitude, longitude, region, customer, volts, labels, , sinceText] = devices[
      i
    ] as PackedRow;
    const o = i * N;
    const state = ints[o + STATE] as number;
    const last = orNull(ints[o + LAST] as number);
    const inactiveSince = orNull(ints[o + INACTIVE] as number);
    const voltsAt = orNull(ints[o + VOLTS_AT] as number);
    const disabled = orNull(ints[o + DISABLED] as number);
    const since1 = orNull(ints[o + SINCE] as number);
    registry.push(id, name, label ?? NUL, region ?? NUL, customer ?? NUL, labels ?? NUL, '\n');
    numbers[3 * i] = latitude ?? Number.NaN;
    numbers[3 * i + 1] = longitude ?? Number.NaN;
    numbers[3 * i + 2] = disabled ?? Number.NaN;

    const set = dict.lineSet(labels);
    const reported = (orNull(ints[o + REPORTED] as number) ?? 0) & set.mask;
    const unpowered = reported & ~(orNull(ints[o + POWERED] as number) ?? 0);
    const outages = orNull(ints[o + OUTAGES] as number) ?? 0;
    const active = (state & 1) === 1;
    const known = active ? reported : 0;
    let lineSince: number | (number | null)[] | null = null;
    // since1: every line since the same second (PACKED_SQL); else the array's text, as encodeRow
    if (known && since1 !== null) lineSince = baseS - since1;
    else if (known && sinceText !== null)
      lineSince = lineSinceOf(known, set, sinceText, (ms) => baseS - Math.floor(ms / 1000));
    countDevice(c, state, set, known, unpowered, outages);
    const row: CompactRow = [
      id,
      name,
      dict.str(region),
      dict.str(customer),
      state,
      set.index,
      set.mask & ~reported,
      unpowered,
      last === null ? null : baseS - last,
      round(volts, 1),
      voltsAt === null ? null : (last ?? baseS) - voltsAt,
      lineSince,
      round(latitude, 5),
      round(longitude, 5),
      label,
      (disabled ?? 0) & set.mask,
      outages,
      active || inactiveSince === null ? null : baseS - inactiveSince,
    ];
    let n = row.length;
    while (n > COMPACT_REQUIRED && (row[n - 1] === null || row[n - 1] === 0)) n -= 1;
    row.length = n;
    rows.push(row);
  }
  return {
    generatedAt: Date.now(),
    base: baseS * 1000,
    seq: devices.length > 0 ? (ints[SEQ] as number) || 0 : (emptySeq ?? 0),
    registry: registryDigest(registry, numbers),
    strings: dict.strings,
    lineSets: dict.lineSets,
    rows,
    counters: c,
  };
}
