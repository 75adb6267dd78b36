/**
 * The worker's use of the engine, minus the database: a line_events "table", the line's
 * state, an outages "table" changed ONLY by the emitted events (applied strictly, so a
 * diff that emits twice or refers to a missing row fails the test).
 */
import { diffOutages } from '../events-diff.js';
import { affectedOutages, anchorFromOutage, anchorFromReport, applyReport, recomputeLine } from '../line-outages.js';
import { compareKeys } from '../order.js';
import type { LineReport, LineState, OutageEvent, OutageInterval, OutageOptions, TimeWindow } from '../types.js';

const idOf = (o: OutageInterval) => `${o.line}|${o.startedAt}|${o.startMsgId}`;

export class SimWorker {
  readonly reports = new Map<string, LineReport>();
  readonly outages = new Map<string, OutageInterval>();
  readonly events: OutageEvent[] = [];
  state: LineState | null = null;
  recomputes = 0;
  outageAnchors = 0;

  constructor(
    readonly line: number,
    public windows: TimeWindow[],
    readonly opts: OutageOptions = {},
    /** Anchor a late report at the stored outage it falls into, when that is newer. */
    readonly anchorAtOutages = true,
    /** Stop reloading at the first powered report after the late one (else reload to the newest). */
    readonly stopEarly = true,
  ) {}

  receive(r: LineReport): void {
    const key = `${r.ts}\u0000${r.msgId}`;
    if (this.reports.has(key)) return; // ON CONFLICT DO NOTHING: a redelivery is a no-op
    this.reports.set(key, r);
    const step = applyReport(this.state, r, this.windows, this.opts);
    if (step.status === 'applied') {
      this.state = step.state;
      this.apply(step.events);
    } else if (step.status === 'late') {
      this.recompute(r);
    }
  }

  /**
   * Late report: reload from the last state change before it up to the first powered report
   * strictly after it (that one was already processed with the same resulting state, so
   * nothing after it changes; the late report itself, even powered, is new and is no end).
   */
  private recompute(late: LineReport): void {
    this.recomputes++;
    const sorted = [...this.reports.values()].sort(compareKeys);
    const older = sorted.filter((x) => compareKeys(x, late) < 0);
    const lastPowered = [...older].reverse().find((x) => x.powered);
    let anchor: LineState | null = lastPowered ? anchorFromReport(lastPowered) : null;
    if (this.anchorAtOutages) {
      const started = [...this.outages.values()]
        .filter((o) => compareKeys({ ts: o.startedAt, msgId: o.startMsgId }, late) < 0)
        .sort((a, b) =>
          compareKeys({ ts: b.startedAt, msgId: b.startMsgId }, { ts: a.startedAt, msgId: a.startMsgId }),
        )[0];
      if (
        started &&
        (anchor === null || compareKeys({ ts: started.startedAt, msgId: started.startMsgId }, anchor) > 0)
      ) {
        anchor = anchorFromOutage(started);
        this.outageAnchors++;
      }
    }
    const end = this.stopEarly ? (sorted.find((x) => x.powered && compareKeys(x, late) > 0) ?? null) : null;
    const loaded = sorted.filter(
      (x) => (anchor === null || compareKeys(x, anchor) > 0) && (end === null || compareKeys(x, end) <= 0),
    );
    const result = recomputeLine(anchor, this.line, loaded, this.windows, this.opts);
    if (end === null) this.state = result.state; // otherwise the current state lies after `end`, unaffected
    this.apply(diffOutages(affectedOutages([...this.outages.values()], anchor, end), result.outages));
  }

  /** The windows changed (late activity): recompute the whole line and diff. */
  rewindow(windows: TimeWindow[]): void {
    this.windows = windows;
    const result = recomputeLine(null, this.line, [...this.reports.values()], windows, this.opts);
    this.state = result.state;
    this.apply(diffOutages([...this.outages.values()], result.outages));
  }

  private apply(events: readonly OutageEvent[]): void {
    for (const e of events) {
      this.events.push(e);
      if (e.type === 'outage.opened') {
        if (this.outages.has(idOf(e.outage))) throw new Error(`opened twice: ${idOf(e.outage)}`);
        this.outages.set(idOf(e.outage), e.outage);
        continue;
      }
      const prevId =
        e.type === 'outage.closed' && e.previous === null ? idOf(e.outage) : idOf(e.previous as OutageInterval);
      if (!this.outages.has(prevId)) throw new Error(`${e.type} for unknown outage ${prevId}`);
      this.outages.delete(prevId);
      if (e.type === 'outage.removed') continue;
      if (this.outages.has(idOf(e.outage))) throw new Error(`${e.type} collides with ${idOf(e.outage)}`);
      this.outages.set(idOf(e.outage), e.outage);
    }
  }

  sortedOutages(): OutageInterval[] {
    return [...this.outages.values()].sort((a, b) =>
      compareKeys({ ts: a.startedAt, msgId: a.startMsgId }, { ts: b.startedAt, msgId: b.startMsgId }),
    );
  }
}
