import type { TimeWindow } from './types.js';

/**
 * Unknown windows of a device from its activity times (any order, duplicates allowed):
 * a silence of at least `timeoutMs` after an activity is unknown from that last activity
 * until the next one. The window starts at the last activity, not at the moment the device
 * was declared inactive: after its last word we have no evidence about its lines. With
 * `now`, a silence still running is returned as an open window (`to: null`).
 */
export function computeUnknownWindows(activity: readonly number[], timeoutMs: number, now?: number): TimeWindow[] {
  throw new Error('not implemented');
}

/** The unknown window a new activity at `ts` ends, if the silence since `lastActivity` was long enough. */
export function unknownWindowBefore(lastActivity: number | null, ts: number, timeoutMs: number): TimeWindow | null {
  throw new Error('not implemented');
}

/**
 * Where the line became unknown between two consecutive reports at `a` and `b` (a ≤ b):
 * the start of the first window overlapping (a, b), but no earlier than `a`. null if no
 * window overlaps. From there until `b` the line's state is unknown.
 */
export function unknownFrom(a: number, b: number, unknown: readonly TimeWindow[]): number | null {
  throw new Error('not implemented');
}
