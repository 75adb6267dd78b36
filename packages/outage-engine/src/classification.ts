import type { LineState, OutageClassification, OutageInterval, TimeWindow } from './types.js';
import { unknownFrom } from './unknown-windows.js';

export const DEFAULT_MOMENTARY_THRESHOLD_MS = 5 * 60_000;

/**
 * Counted duration. Closed: endedAt − startedAt − unknownMs. Open: with `now`, the time
 * counted so far, stopping at `unknownSince` when the line is unknown now (see
 * lineUnknownSince); without `now`, null.
 */
export function outageDurationMs(o: OutageInterval, now?: number, unknownSince?: number | null): number | null {
  if (o.endedAt !== null) return o.endedAt - o.startedAt - o.unknownMs;
  if (now === undefined) return null;
  const end = Math.min(now, unknownSince ?? now);
  return Math.max(0, end - o.startedAt - o.unknownMs);
}

/**
 * Momentary iff the counted duration is below the threshold (IEEE 1366: sustained = longer
 * than 5 min; exactly the threshold counts as sustained). An open outage is 'pending'
 * until it has lasted the threshold, then 'sustained' even while still open.
 */
export function classifyOutage(
  o: OutageInterval,
  opts: { momentaryThresholdMs?: number; now: number; unknownSince?: number | null },
): OutageClassification | 'pending' {
  const threshold = opts.momentaryThresholdMs ?? DEFAULT_MOMENTARY_THRESHOLD_MS;
  const d = outageDurationMs(o, opts.now, opts.unknownSince) as number;
  if (d >= threshold) return 'sustained';
  return o.endedAt === null ? 'pending' : 'momentary';
}

/** Since when the line's state is unknown at `now` (device offline since its last report), or null. */
export function lineUnknownSince(state: LineState, unknown: readonly TimeWindow[], now: number): number | null {
  return unknownFrom(state.ts, now, unknown);
}

/** True when an unknown window touches the outage: start, end or duration is a lower bound. */
export function isOutageUncertain(o: OutageInterval): boolean {
  return o.startWindow !== null || o.endWindow !== null || o.unknownMs > 0;
}
