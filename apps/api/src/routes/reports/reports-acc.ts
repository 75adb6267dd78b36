/**
 * The report's shape and its running totals, shared by both ways of computing it (raw
 * outages in reports-raw.ts, day rollups in reports-rollup.ts): each adds per-group line
 * totals and per group × set × class outage totals, then finish() turns them into IEEE
 * 1366 indices with @spms/reliability's computeIndices.
 */
import { computeIndices, type DurationStats } from '@spms/reliability';

export type GroupBy = 'region' | 'customer' | 'device';
export type SetName = 'main' | 'planned' | 'majorEvents';

/** One class's counts and durations: @spms/reliability's DurationStats. */
export type Stats = DurationStats;

export interface SetReport {
  indices: ReturnType<typeof computeIndices> & { asaiPercent: number | null };
  sustained: Stats;
  momentary: Stats;
  pending: number;
  /** Sustained + momentary: the outage count and durations operators ask for first. */
  all: { count: number; totalDurationMs: number; meanDurationMs: number | null; longestMs: number | null };
}

export interface GroupReport {
  key: string;
  name: string | null;
  lines: number;
  lineHours: number;
  unknownLineHours: number;
  knownLineHours: number;
  main: SetReport;
  planned: SetReport;
  majorEvents: SetReport | null;
}

export interface ReliabilityResult {
  from: string;
  to: string;
  timeZone: string;
  groupBy: GroupBy;
  excludeMajorEvents: boolean;
  majorEventThresholdMinutes: number | null;
  majorEventDays: string[];
  fleet: GroupReport;
  groups: GroupReport[];
}

const H = 3_600_000;

function emptyStats(): Stats {
  return {
    count: 0,
    openCount: 0,
    carriedIn: 0,
    withDuration: 0,
    totalDurationMs: 0,
    meanDurationMs: null,
    longestMs: null,
  };
}

export interface Acc {
  key: string;
  name: string | null;
  lines: number;
  lineMs: number;
  unknownMs: number;
  sets: Record<SetName, { sustained: Stats; momentary: Stats; pending: number }>;
}

function newAcc(key: string, name: string | null): Acc {
  const set = () => ({ sustained: emptyStats(), momentary: emptyStats(), pending: 0 });
  return { key, name, lines: 0, lineMs: 0, unknownMs: 0, sets: { main: set(), planned: set(), majorEvents: set() } };
}

/** One group's totals of one set and class (a row of either query). */
export interface OutageTotals {
  count: number;
  openCount: number;
  carriedIn: number;
  withDuration: number;
  totalMs: number;
  longestMs: number | null;
}

/** Line totals of one group. */
export interface LineRow {
  gkey: string | null;
  gname: string | null;
  lines: number;
  line_ms: number;
  unknown_ms: number;
}

/** Outage totals of one group × set × class, to add once the line rows made the groups. */
export interface OutageRow {
  gkey: string | null;
  set: SetName;
  cls: string;
  t: OutageTotals;
}

/** The fleet and the groups, filled by line rows, then outage totals. */
export class ReportAcc {
  readonly fleet = newAcc('fleet', null);
  readonly groups = new Map<string, Acc>();

  /** Lines of one group: every row adds to its group (none without region/customer) and to the fleet. */
  addLines(r: LineRow): void {
    const targets = [this.fleet];
    if (r.gkey !== null) {
      const g = newAcc(r.gkey, r.gname);
      this.groups.set(r.gkey, g);
      targets.push(g);
    }
    for (const a of targets) {
      a.lines += r.lines;
      a.lineMs += r.line_ms;
      a.unknownMs += r.unknown_ms;
    }
  }

  addOutages({ gkey, set, cls, t }: OutageRow): void {
    const g = gkey === null ? undefined : this.groups.get(gkey);
    for (const a of g ? [this.fleet, g] : [this.fleet]) {
      const s = a.sets[set];
      if (cls === 'pending') {
        s.pending += t.count;
        continue;
      }
      const st = s[cls as 'sustained' | 'momentary'];
      st.count += t.count;
      st.openCount += t.openCount;
      st.carriedIn += t.carriedIn;
      st.withDuration += t.withDuration;
      st.totalDurationMs += t.totalMs;
      if (t.longestMs !== null) st.longestMs = Math.max(st.longestMs ?? 0, t.longestMs);
    }
  }

  result(base: Omit<ReliabilityResult, 'fleet' | 'groups'>): ReliabilityResult {
    const withMed = base.excludeMajorEvents;
    return {
      ...base,
      fleet: finish(this.fleet, withMed),
      groups: [...this.groups.values()]
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map((g) => finish(g, withMed)),
    };
  }
}

function finishSet(s: Acc['sets'][SetName], lines: number, knownMs: number): SetReport {
  for (const st of [s.sustained, s.momentary])
    st.meanDurationMs = st.withDuration > 0 ? st.totalDurationMs / st.withDuration : null;
  const indices = computeIndices(s.sustained, s.momentary.count, lines, knownMs);
  const withDuration = s.sustained.withDuration + s.momentary.withDuration;
  const total = s.sustained.totalDurationMs + s.momentary.totalDurationMs;
  const longest = [s.sustained.longestMs, s.momentary.longestMs].filter((x): x is number => x !== null);
  return {
    indices: { ...indices, asaiPercent: indices.asai === null ? null : indices.asai * 100 },
    sustained: s.sustained,
    momentary: s.momentary,
    pending: s.pending,
    all: {
      count: s.sustained.count + s.momentary.count,
      totalDurationMs: total,
      meanDurationMs: withDuration > 0 ? total / withDuration : null,
      longestMs: longest.length ? Math.max(...longest) : null,
    },
  };
}

function finish(a: Acc, withMed: boolean): GroupReport {
  const knownMs = Math.max(0, a.lineMs - a.unknownMs);
  return {
    key: a.key,
    name: a.name,
    lines: a.lines,
    lineHours: a.lineMs / H,
    unknownLineHours: a.unknownMs / H,
    knownLineHours: knownMs / H,
    main: finishSet(a.sets.main, a.lines, knownMs),
    planned: finishSet(a.sets.planned, a.lines, knownMs),
    majorEvents: withMed ? finishSet(a.sets.majorEvents, a.lines, knownMs) : null,
  };
}
