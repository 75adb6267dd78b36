import type { LineReport, LineState, MsgKey, OutageEvent, OutageInterval, OutageOptions, TimeWindow } from './types.js';

export type LineStep =
  | { status: 'applied'; state: LineState; events: OutageEvent[] }
  /** Same key as the line's newest report: nothing to do. */
  | { status: 'duplicate'; state: LineState }
  /** Older than the line's newest report: the caller must recompute (see recomputeLine). */
  | { status: 'late'; state: LineState };

/**
 * The O(1) hot-path step for a report newer than the line's newest one. `unknown` needs to
 * hold at least the windows overlapping (state.ts, report.ts); others are ignored.
 */
export function applyReport(
  state: LineState | null,
  report: LineReport,
  unknown: readonly TimeWindow[],
  opts?: OutageOptions,
): LineStep {
  throw new Error('not implemented');
}

/** All outages of one line from its report history (any order, duplicates allowed). */
export function computeLineOutages(
  line: number,
  reports: readonly LineReport[],
  unknown: readonly TimeWindow[],
  opts?: OutageOptions,
): OutageInterval[] {
  throw new Error('not implemented');
}

/**
 * Recompute from an anchor: `reports` = the line's reports after the anchor's key (more are
 * ignored). Returns the state after the last report and the outages opened after the anchor,
 * plus the anchor's open outage (continued or closed). Equal to computeLineOutages over the
 * full history restricted to those outages.
 */
export function recomputeLine(
  anchor: LineState | null,
  line: number,
  reports: readonly LineReport[],
  unknown: readonly TimeWindow[],
  opts?: OutageOptions,
): { state: LineState | null; outages: OutageInterval[] } {
  throw new Error('not implemented');
}

/** Anchor state right after a powered report: independent of all earlier history. */
export function anchorFromReport(report: LineReport): LineState {
  throw new Error('not implemented');
}

/** Anchor state right after the opening report of a stored outage (as it was at its start). */
export function anchorFromOutage(outage: OutageInterval): LineState {
  throw new Error('not implemented');
}

/**
 * The stored outages a recompute from `anchor` up to `endKey` (inclusive; null = up to the
 * newest report) replaces: those whose opening report lies after the anchor, plus the
 * anchor's own open outage. Diff them against recomputeLine's outages.
 */
export function affectedOutages<T extends OutageInterval>(
  stored: readonly T[],
  anchor: LineState | null,
  endKey: MsgKey | null,
): T[] {
  throw new Error('not implemented');
}
