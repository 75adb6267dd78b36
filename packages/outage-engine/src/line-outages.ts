import { DEFAULT_MOMENTARY_THRESHOLD_MS } from './classification.js';
import { compareKeys, sortUnique } from './order.js';
import type { LineReport, LineState, MsgKey, OutageEvent, OutageInterval, OutageOptions, TimeWindow } from './types.js';
import { unknownFrom } from './unknown-windows.js';

export type LineStep =
  | { status: 'applied'; state: LineState; events: OutageEvent[] }
  /** Same key as the line's newest report: nothing to do. */
  | { status: 'duplicate'; state: LineState }
  /** Older than the line's newest report: the caller must recompute (see recomputeLine). */
  | { status: 'late'; state: LineState };

/** The end of an outage that has not ended: no end, nothing unknown or counted yet, unclassified. */
const STILL_OPEN = {
  endedAt: null,
  endMsgId: null,
  endWindow: null,
  unknownMs: 0,
  durationMs: null,
  classification: null,
} as const;

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
  if (state !== null) {
    if (report.line !== state.line) throw new Error(`report for line ${report.line} applied to line ${state.line}`);
    const order = compareKeys(report, state);
    if (order === 0) return { status: 'duplicate', state };
    if (order < 0) return { status: 'late', state };
  }
  const threshold = opts?.momentaryThresholdMs ?? DEFAULT_MOMENTARY_THRESHOLD_MS;
  return { status: 'applied', ...transition(state, report, unknown, threshold) };
}

/** The state machine. `report` is strictly newer than `state`. */
function transition(
  state: LineState | null,
  r: LineReport,
  unknown: readonly TimeWindow[],
  thresholdMs: number,
): { state: LineState; events: OutageEvent[] } {
  const next = (open: OutageInterval | null): LineState => ({
    line: r.line,
    ts: r.ts,
    msgId: r.msgId,
    powered: r.powered,
    open,
  });
  // The first report establishes state: no transition was observed, so no outage.
  if (state === null) return { state: next(null), events: [] };
  const u = unknownFrom(state.ts, r.ts, unknown);
  if (state.powered) {
    if (r.powered) return { state: next(null), events: [] };
    const outage: OutageInterval = {
      line: r.line,
      startedAt: r.ts,
      startMsgId: r.msgId,
      // Began while we could not see: between last seen powered and first seen unpowered.
      startWindow: u === null ? null : { from: u, to: r.ts },
      ...STILL_OPEN,
    };
    return { state: next(outage), events: [{ type: 'outage.opened', outage }] };
  }
  const open = state.open;
  // Unpowered since the first report: the line was never seen powered, nothing to close.
  if (open === null) return { state: next(null), events: [] };
  if (!r.powered) {
    if (u === null) return { state: next(open), events: [] };
    // Still down after an unknown stretch: the outage continues, the stretch is not counted.
    const outage = { ...open, unknownMs: open.unknownMs + (r.ts - u) };
    return { state: next(outage), events: [{ type: 'outage.changed', outage, previous: open }] };
  }
  // Restored; if we could not see when, it counts up to the last moment seen unpowered.
  const endedAt = u ?? r.ts;
  const durationMs = endedAt - open.startedAt - open.unknownMs;
  const outage: OutageInterval = {
    ...open,
    endedAt,
    endMsgId: r.msgId,
    endWindow: u === null ? null : { from: u, to: r.ts },
    durationMs,
    classification: durationMs < thresholdMs ? 'momentary' : 'sustained',
  };
  return { state: next(null), events: [{ type: 'outage.closed', outage, previous: open }] };
}

function fold(
  anchor: LineState | null,
  line: number,
  reports: readonly LineReport[],
  unknown: readonly TimeWindow[],
  opts?: OutageOptions,
): { state: LineState | null; outages: OutageInterval[] } {
  const threshold = opts?.momentaryThresholdMs ?? DEFAULT_MOMENTARY_THRESHOLD_MS;
  let state = anchor;
  const outages: OutageInterval[] = anchor?.open ? [anchor.open] : [];
  for (const r of sortUnique(reports)) {
    if (r.line !== line || (state !== null && compareKeys(r, state) <= 0)) continue;
    const step = transition(state, r, unknown, threshold);
    state = step.state;
    for (const e of step.events) {
      // Only the newest outage can be open, so every update is to the last one.
      if (e.type === 'outage.opened') outages.push(e.outage);
      else if (e.type !== 'outage.removed') outages[outages.length - 1] = e.outage;
    }
  }
  return { state, outages };
}

/** All outages of one line from its report history (any order, duplicates allowed). */
export function computeLineOutages(
  line: number,
  reports: readonly LineReport[],
  unknown: readonly TimeWindow[],
  opts?: OutageOptions,
): OutageInterval[] {
  return fold(null, line, reports, unknown, opts).outages;
}

/**
 * Recompute from an anchor: `reports` = the line's reports after the anchor's key (older
 * ones are ignored). Returns the state after the last report and the outages opened after
 * the anchor, plus the anchor's open outage (continued or closed). Equal to
 * computeLineOutages over the full history, restricted to those outages.
 */
export function recomputeLine(
  anchor: LineState | null,
  line: number,
  reports: readonly LineReport[],
  unknown: readonly TimeWindow[],
  opts?: OutageOptions,
): { state: LineState | null; outages: OutageInterval[] } {
  if (anchor !== null && anchor.line !== line) throw new Error(`anchor for line ${anchor.line} used for line ${line}`);
  return fold(anchor, line, reports, unknown, opts);
}

/**
 * Anchor state right after a powered report: independent of all earlier history. (An
 * unpowered report is a valid anchor only when no outage was open, e.g. the first report.)
 */
export function anchorFromReport(report: LineReport): LineState {
  return { line: report.line, ts: report.ts, msgId: report.msgId, powered: report.powered, open: null };
}

/** Anchor state right after the opening report of a stored outage (as it was at its start). */
export function anchorFromOutage(outage: OutageInterval): LineState {
  return {
    line: outage.line,
    ts: outage.startedAt,
    msgId: outage.startMsgId,
    powered: false,
    open: { ...outage, ...STILL_OPEN },
  };
}

export function outageStartKey(o: OutageInterval): MsgKey {
  return { ts: o.startedAt, msgId: o.startMsgId };
}

/**
 * The stored outages of this line that a recompute from `anchor` up to `endKey`
 * (inclusive; null = up to the newest report) replaces: those whose opening report lies at
 * or after the anchor. Pass only this line's outages. Diff them against recomputeLine's.
 */
export function affectedOutages<T extends OutageInterval>(
  stored: readonly T[],
  anchor: LineState | null,
  endKey: MsgKey | null,
): T[] {
  return stored.filter((o) => {
    const start = outageStartKey(o);
    if (anchor !== null && compareKeys(start, anchor) < 0) return false;
    return endKey === null || compareKeys(start, endKey) <= 0;
  });
}
