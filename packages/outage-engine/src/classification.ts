import type { OutageClassification, OutageInterval, TimeWindow } from './types.js';

export const DEFAULT_MOMENTARY_THRESHOLD_MS = 5 * 60_000;

/**
 * Counted duration: closed → endedAt − startedAt − unknownMs. Open → with `now`, the time
 * counted so far (unknown windows overlapping the running part excluded when given), else null.
 */
export function outageDurationMs(o: OutageInterval, now?: number, unknown: readonly TimeWindow[] = []): number | null {
  throw new Error('not implemented');
}

/** Momentary iff counted duration < threshold; an open outage is 'pending' until it passes it. */
export function classifyOutage(
  o: OutageInterval,
  opts: { momentaryThresholdMs?: number; now: number; unknown?: readonly TimeWindow[] },
): OutageClassification | 'pending' {
  throw new Error('not implemented');
}

/** True when an unknown window touches the outage: start, end or duration is a lower bound. */
export function isOutageUncertain(o: OutageInterval): boolean {
  return o.startWindow !== null || o.endWindow !== null || o.unknownMs > 0;
}
