import { type Contribution, GroupAccumulator, type SetName } from './accumulate.js';
import { containsInstant, knownOutageMs, mergeWindows, overlapMs, type Span, windowsByDevice } from './intervals.js';
import { DEFAULT_TIME_ZONE, localDay, localDayStart, nextDay } from './local-days.js';
import type { GroupKind, Period, ReliabilityInput, ReliabilityReport, ServicePoint } from './types.js';
import { MS_PER_HOUR } from './units.js';

export interface ReliabilityOptions {
  /** Report period [from, to), epoch ms. */
  period: Period;
  /** IANA zone of the local days used for major event days (default Asia/Colombo). */
  timeZone?: string;
  /**
   * Major event days ('YYYY-MM-DD' local days, e.g. from `majorEventDays`). Unplanned outages
   * that BEGAN on one of them leave the main indices and are reported under `majorEvents`.
   */
  majorEventDays?: Iterable<string>;
}

/** Key of a line: deviceId and line number (NUL cannot occur in either). */
export function lineKey(deviceId: string, line: number): string {
  return `${deviceId}\u0000${line}`;
}

/** The part of the period a line was in service, or null when it was not in service at all. */
export function inServiceSpan(sp: ServicePoint, period: Period): Span | null {
  const from = Math.max(period.from, sp.inServiceFrom ?? Number.NEGATIVE_INFINITY);
  const to = Math.min(period.to, sp.inServiceTo ?? Number.POSITIVE_INFINITY);
  return to > from ? { from, to } : null;
}

interface LineState {
  sp: ServicePoint;
  span: Span;
  groups: GroupAccumulator[];
}

/**
 * Reliability indices and outage statistics for the fleet and per region, customer and device.
 * Each outage row is one line-outage (N_i = 1); see README "Reliability indices".
 */
export function computeReliability(input: ReliabilityInput, options: ReliabilityOptions): ReliabilityReport {
  const { period } = options;
  if (!(period.to > period.from)) throw new RangeError('period.to must be after period.from');
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE;
  localDay(period.from, timeZone); // validate the zone even when no MED list is given
  // MED days as UTC spans: one Intl look-up per day instead of one per outage.
  const medSpans = options.majorEventDays
    ? mergeWindows(
        [...new Set(options.majorEventDays)].map((d) => ({
          from: localDayStart(d, timeZone),
          to: localDayStart(nextDay(d), timeZone),
        })),
      )
    : null;
  const windows = windowsByDevice(input.unknown);

  const groups = new Map<string, GroupAccumulator>();
  const group = (kind: GroupKind, key: string): GroupAccumulator => {
    const id = `${kind}\u0000${key}`;
    const existing = groups.get(id);
    if (existing) return existing;
    const created = new GroupAccumulator(kind, key);
    groups.set(id, created);
    return created;
  };
  const fleet = group('fleet', 'fleet');

  const lines = new Map<string, LineState>();
  for (const sp of input.servicePoints) {
    const key = lineKey(sp.deviceId, sp.line);
    if (lines.has(key)) continue; // a line is one service point, however often it is listed
    const span = inServiceSpan(sp, period);
    if (!span) continue;
    const lineGroups = [fleet, group('device', sp.deviceId)];
    if (sp.region != null) lineGroups.push(group('region', sp.region));
    if (sp.customer != null) lineGroups.push(group('customer', sp.customer));
    const unknownMs = overlapMs(windows.get(sp.deviceId) ?? [], span.from, span.to);
    for (const g of lineGroups) g.addLine(span.to - span.from, unknownMs);
    lines.set(key, { sp, span, groups: lineGroups });
  }

  let ignoredOutages = 0;
  for (const o of input.outages) {
    const line = lines.get(lineKey(o.deviceId, o.line));
    if (!line) {
      ignoredOutages += 1;
      continue;
    }
    const { span } = line;
    const startsIn = o.startedAt >= span.from && o.startedAt < span.to;
    const carriedIn = o.startedAt < span.from && (o.endedAt === null || o.endedAt > span.from);
    if (!startsIn && !carriedIn) continue; // wholly outside this line's time in the period
    let knownMs: number | null = null;
    // Open outages count in frequency only, until they close (docs/domain-rules.md).
    if (o.endedAt !== null && Math.min(o.endedAt, span.to) > Math.max(o.startedAt, span.from)) {
      knownMs = knownOutageMs(
        { startedAt: o.startedAt, endedAt: o.endedAt, unknownMs: o.unknownMs },
        span.from,
        span.to,
        windows.get(o.deviceId) ?? [],
      );
    }
    const c: Contribution = { cls: o.class, startsIn, carriedIn, open: o.endedAt === null, knownMs };
    const set: SetName = o.planned
      ? 'planned'
      : medSpans && containsInstant(medSpans, o.startedAt)
        ? 'majorEvents'
        : 'main';
    for (const g of line.groups) g.addOutage(set, c);
  }

  const withMed = medSpans !== null;
  const byKind = (kind: GroupKind) =>
    [...groups.values()]
      .filter((g) => g.kind === kind)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((g) => g.result(withMed));
  return {
    period: { from: period.from, to: period.to },
    periodHours: (period.to - period.from) / MS_PER_HOUR,
    timeZone,
    fleet: fleet.result(withMed),
    regions: byKind('region'),
    customers: byKind('customer'),
    devices: byKind('device'),
    ignoredOutages,
  };
}
