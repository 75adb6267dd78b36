import type { LineReport, MsgKey } from './types.js';

/**
 * Order by (ts, msgId). msgId is compared by UTF-16 code units, which equals PostgreSQL's
 * order only under `COLLATE "C"`: SQL that selects ranges by (ts, msg_id) must use it.
 */
export function compareKeys(a: MsgKey, b: MsgKey): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.msgId === b.msgId) return 0;
  return a.msgId < b.msgId ? -1 : 1;
}

export function sameKey(a: MsgKey, b: MsgKey): boolean {
  return a.ts === b.ts && a.msgId === b.msgId;
}

/**
 * Sorted by key with duplicates (same ts and msgId) removed. A redelivered message carries
 * the same key and the same content; should two differ, the one sorting first by content
 * (`JSON.stringify`) is kept so the result never depends on arrival order.
 */
export function sortUnique<T extends MsgKey>(items: readonly T[]): T[] {
  const sorted = [...items].sort((a, b) => compareKeys(a, b) || tieBreak(a, b));
  const out: T[] = [];
  for (const item of sorted) {
    const last = out[out.length - 1];
    if (last === undefined || !sameKey(last, item)) out.push(item);
  }
  return out;
}

function tieBreak(a: MsgKey, b: MsgKey): number {
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/**
 * The current state of every line: the report with the NEWEST (ts, msgId), not the last
 * one received (ThingsBoard's "latest" is last-received, so a replay overwrites newer state).
 */
export function latestLineState(reports: Iterable<LineReport>): Map<number, LineReport> {
  const latest = new Map<number, LineReport>();
  for (const r of reports) {
    const cur = latest.get(r.line);
    if (cur === undefined || compareKeys(r, cur) > 0) latest.set(r.line, r);
  }
  return latest;
}
