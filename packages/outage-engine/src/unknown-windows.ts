import type { TimeWindow } from './types.js';

/**
 * Unknown windows of a device from its activity times (any order, duplicates allowed):
 * a silence of at least `timeoutMs` after an activity is unknown from that last activity
 * until the next one. The window starts at the last activity, not at the moment the device
 * was declared inactive: after its last word we have no evidence about its lines. With
 * `now`, a silence still running is returned as an open window (`to: null`).
 */
export function computeUnknownWindows(activity: readonly number[], timeoutMs: number, now?: number): TimeWindow[] {
  const times = [...activity].sort((a, b) => a - b);
  const windows: TimeWindow[] = [];
  for (let i = 1; i < times.length; i++) {
    const w = unknownWindowBefore(times[i - 1] as number, times[i] as number, timeoutMs);
    if (w !== null) windows.push(w);
  }
  const last = times[times.length - 1];
  if (last !== undefined && now !== undefined && now - last >= timeoutMs) windows.push({ from: last, to: null });
  return windows;
}

/** The unknown window a new activity at `ts` ends, if the silence since `lastActivity` was long enough. */
export function unknownWindowBefore(lastActivity: number | null, ts: number, timeoutMs: number): TimeWindow | null {
  // Inactive from exactly lastActivity + timeout (ThingsBoard: active while now < last + timeout).
  if (lastActivity === null || ts - lastActivity < timeoutMs) return null;
  return { from: lastActivity, to: ts };
}

/**
 * Where the line became unknown between two consecutive reports at `a` and `b` (a ≤ b):
 * the start of the first window overlapping (a, b), but no earlier than `a`. null if no
 * window overlaps. From there until `b` the line's state is unknown.
 */
export function unknownFrom(a: number, b: number, unknown: readonly TimeWindow[]): number | null {
  if (b <= a) return null;
  let from: number | null = null;
  for (const w of unknown) {
    // [w.from, w.to) overlaps the open interval (a, b); empty windows never count.
    const overlaps = w.from < b && (w.to === null || w.to > a) && (w.to === null || w.to > w.from);
    if (overlaps && (from === null || w.from < from)) from = w.from;
  }
  return from === null ? null : Math.max(a, from);
}
