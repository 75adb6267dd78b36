/**
 * Ground truth for the property tests, written independently of the engine: whole-history,
 * run-based, brute force. (The engine folds a state machine one report at a time.)
 */
import type { LineReport, OutageInterval, TimeWindow } from '../types.js';

export function inOrder(reports: readonly LineReport[], line: number): LineReport[] {
  const byKey = new Map<string, LineReport>();
  for (const r of reports) if (r.line === line) byKey.set(`${r.ts}\u0000${r.msgId}`, r);
  return [...byKey.values()].sort((a, b) => a.ts - b.ts || (a.msgId < b.msgId ? -1 : a.msgId > b.msgId ? 1 : 0));
}

/** Start of "unknown" between reports at a < b: the earliest window overlapping (a, b), clipped to a. */
function gapUnknownFrom(a: number, b: number, windows: readonly TimeWindow[]): number | null {
  if (a >= b) return null;
  const starts = windows
    .filter((w) => (w.to === null || w.to > w.from) && w.from < b && (w.to === null || w.to > a))
    .map((w) => w.from);
  return starts.length === 0 ? null : Math.max(a, Math.min(...starts));
}

export function oracleOutages(
  allReports: readonly LineReport[],
  line: number,
  windows: readonly TimeWindow[],
  thresholdMs: number,
): OutageInterval[] {
  const rs = inOrder(allReports, line);
  const u = rs.map((r, i) => (i === 0 ? null : gapUnknownFrom((rs[i - 1] as LineReport).ts, r.ts, windows)));
  const out: OutageInterval[] = [];
  for (let i = 1; i < rs.length; i++) {
    const prev = rs[i - 1] as LineReport;
    const start = rs[i] as LineReport;
    // An outage is exactly a run of unpowered reports that follows a powered one.
    if (!prev.powered || start.powered) continue;
    let j = i + 1;
    while (j < rs.length && !(rs[j] as LineReport).powered) j++;
    let unknownMs = 0;
    for (let k = i + 1; k < j; k++) {
      const uk = u[k];
      if (uk != null) unknownMs += (rs[k] as LineReport).ts - uk;
    }
    const ui = u[i] ?? null;
    const o: OutageInterval = {
      line,
      startedAt: start.ts,
      startMsgId: start.msgId,
      startWindow: ui === null ? null : { from: ui, to: start.ts },
      endedAt: null,
      endMsgId: null,
      endWindow: null,
      unknownMs,
      durationMs: null,
      classification: null,
    };
    const end = rs[j];
    if (end !== undefined) {
      const uj = u[j] ?? null;
      o.endedAt = uj ?? end.ts;
      o.endMsgId = end.msgId;
      o.endWindow = uj === null ? null : { from: uj, to: end.ts };
      o.durationMs = o.endedAt - o.startedAt - unknownMs;
      o.classification = o.durationMs < thresholdMs ? 'momentary' : 'sustained';
    }
    out.push(o);
    i = j - 1;
  }
  return out;
}

/**
 * Millisecond-by-millisecond measure of "known to be in an outage" over [first, last)
 * report ts: the state at t is the newest report at or before t; it is unknown when a
 * window that starts at or before t is still open after that report's ts.
 */
export function timelineOutageMs(
  allReports: readonly LineReport[],
  line: number,
  windows: readonly TimeWindow[],
): number {
  const rs = inOrder(allReports, line);
  if (rs.length === 0) return 0;
  let total = 0;
  for (let t = (rs[0] as LineReport).ts; t < (rs[rs.length - 1] as LineReport).ts; t++) {
    let idx = -1;
    for (let k = 0; k < rs.length; k++) if ((rs[k] as LineReport).ts <= t) idx = k;
    const r = rs[idx] as LineReport;
    const unknown = windows.some(
      (w) => (w.to === null || w.to > w.from) && w.from <= t && (w.to === null || w.to > r.ts),
    );
    // In an outage = unpowered and some earlier report was powered (a transition was seen).
    const inOutage = !r.powered && rs.slice(0, idx).some((p) => p.powered);
    if (inOutage && !unknown) total++;
  }
  return total;
}
