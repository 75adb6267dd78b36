/**
 * STATUS_ENCODER=packed (the default): the compact snapshot from status-compact-source.ts's
 * PACKED_SQL rows, byte for byte the answer status-compact.ts's row encoder gives, cheaper.
 */

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
import type { CompactRow } from './status-compact-schema.js';
import { PACKED_NUMBERS, type PackedRow } from './status-compact-source.js';

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
    rows.push(trimDefaults(row));
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
