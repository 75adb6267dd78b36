import type { DurationStats, GroupKind, GroupReliability, OutageSet, ReliabilityIndices } from './types.js';
import { MS_PER_HOUR, MS_PER_MINUTE } from './units.js';

/** What one line-outage adds to its group (already clipped and attributed by the caller). */
export interface Contribution {
  cls: 'momentary' | 'sustained' | 'pending';
  /** Began inside the line's in-service time in the period: counts in frequency indices. */
  startsIn: boolean;
  open: boolean;
  /** Began before the period and still running at its start. */
  carriedIn: boolean;
  /** Known in-period duration (0 for open outages); null = no closed time inside the period. */
  knownMs: number | null;
}

interface StatsAcc {
  count: number;
  openCount: number;
  carriedIn: number;
  withDuration: number;
  totalDurationMs: number;
  longestMs: number | null;
}

interface SetAcc {
  sustained: StatsAcc;
  momentary: StatsAcc;
  pending: number;
}

function newStats(): StatsAcc {
  return { count: 0, openCount: 0, carriedIn: 0, withDuration: 0, totalDurationMs: 0, longestMs: null };
}

function newSet(): SetAcc {
  return { sustained: newStats(), momentary: newStats(), pending: 0 };
}

export type SetName = 'main' | 'planned' | 'majorEvents';

/** Running totals of one group (fleet, a region, a customer or a device). */
export class GroupAccumulator {
  lines = 0;
  lineMs = 0;
  unknownMs = 0;
  readonly sets: Record<SetName, SetAcc> = { main: newSet(), planned: newSet(), majorEvents: newSet() };

  constructor(
    readonly kind: GroupKind,
    readonly key: string,
  ) {}

  addLine(inServiceMs: number, unknownMs: number): void {
    this.lines += 1;
    this.lineMs += inServiceMs;
    this.unknownMs += unknownMs;
  }

  addOutage(set: SetName, c: Contribution): void {
    const s = this.sets[set];
    if (c.cls === 'pending') {
      if (c.startsIn) s.pending += 1;
      return;
    }
    const st = s[c.cls];
    if (c.startsIn) {
      st.count += 1;
      if (c.open) st.openCount += 1;
    }
    if (c.carriedIn) st.carriedIn += 1;
    if (c.knownMs !== null) {
      st.withDuration += 1;
      st.totalDurationMs += c.knownMs;
      st.longestMs = st.longestMs === null ? c.knownMs : Math.max(st.longestMs, c.knownMs);
    }
  }

  result(withMajorEvents: boolean): GroupReliability {
    const knownMs = Math.max(0, this.lineMs - this.unknownMs);
    return {
      kind: this.kind,
      key: this.key,
      lines: this.lines,
      lineHours: this.lineMs / MS_PER_HOUR,
      unknownLineHours: this.unknownMs / MS_PER_HOUR,
      knownLineHours: knownMs / MS_PER_HOUR,
      main: finishSet(this.sets.main, this.lines, knownMs),
      planned: finishSet(this.sets.planned, this.lines, knownMs),
      majorEvents: withMajorEvents ? finishSet(this.sets.majorEvents, this.lines, knownMs) : null,
    };
  }
}

function finishStats(s: StatsAcc): DurationStats {
  return { ...s, meanDurationMs: s.withDuration > 0 ? s.totalDurationMs / s.withDuration : null };
}

/** The IEEE 1366 formulas; see README "Reliability indices" for the conventions. */
export function computeIndices(
  sustained: Pick<DurationStats, 'count' | 'totalDurationMs'>,
  momentaryCount: number,
  lines: number,
  knownLineMs: number,
): ReliabilityIndices {
  const customerMinutes = sustained.totalDurationMs / MS_PER_MINUTE;
  // N_T = 0 (no line in service): nothing was interrupted, report zeros rather than NaN.
  const saifi = lines > 0 ? sustained.count / lines : 0;
  const saidiMinutes = lines > 0 ? customerMinutes / lines : 0;
  const asaiRaw = knownLineMs > 0 ? 1 - sustained.totalDurationMs / knownLineMs : null;
  return {
    customerInterruptions: sustained.count,
    customerMinutes,
    saifi,
    saidiMinutes,
    caidiMinutes: saifi > 0 ? saidiMinutes / saifi : null,
    maifi: lines > 0 ? momentaryCount / lines : 0,
    // Clamped only against inconsistent input (overlapping outage rows on one line).
    asai: asaiRaw === null ? null : Math.min(1, Math.max(0, asaiRaw)),
  };
}

function finishSet(s: SetAcc, lines: number, knownLineMs: number): OutageSet {
  const sustained = finishStats(s.sustained);
  const momentary = finishStats(s.momentary);
  return {
    indices: computeIndices(sustained, momentary.count, lines, knownLineMs),
    sustained,
    momentary,
    pending: s.pending,
  };
}
