/**
 * What both compact encoders (status-compact.ts for STATUS_ENCODER=rows,
 * status-compact-packed.ts for packed) build a snapshot from: the dictionary that interns
 * strings and line label sets, the counters, the registry digest, a device's lineSince, and
 * the slicing that keeps a rebuild from holding up the event loop.
 */
import { createHash } from 'node:crypto';
import { COMPACT_REQUIRED, type CompactCounters, type CompactRow } from './status-compact-schema.js';

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

export const SEP = '\u001f';
/** Stands for null in the registry digest (not the empty string). */
export const NUL = '\u0000';

export interface LineSet {
  index: number;
  /** line numbers in label order (the order of the source's `since` list) */
  numbers: number[];
  /** bit n-1 set for every line of the set */
  mask: number;
}

/** Interns strings and line label sets so each is sent once. */
export class Dictionary {
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
export const round = (v: number | null, digits: number) => {
  if (v === null) return null;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

export const noCounters = (): CompactCounters => ({
  devices: 0,
  active: 0,
  inactive: 0,
  connectionLost: 0,
  linesWithoutPower: 0,
  linesUnknown: 0,
  openOutages: 0,
});

/** Counts a device in the counters (its known lines: reported, and the device active). */
export function countDevice(
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
export const registryDigest = (registry: string[], numbers: Float64Array) =>
  createHash('sha256').update(registry.join(SEP)).update(new Uint8Array(numbers.buffer)).digest('base64url');

/** Rows encoded between two turns of the event loop: a rebuild never holds up the requests
 *  the cache answers meanwhile for more than a few milliseconds. */
export const SLICE = 1000;
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** lineSince of a device with known lines from its since array's text (ms, `since` order). */
export function lineSinceOf(
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

/** Trailing defaults say nothing: cut them (most devices have no label, outage or disabled line). */
export function trimDefaults(row: CompactRow): CompactRow {
  let n = row.length;
  while (n > COMPACT_REQUIRED && (row[n - 1] === null || row[n - 1] === 0)) n -= 1;
  row.length = n;
  return row;
}
