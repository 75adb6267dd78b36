import { type DailySaidiOptions, dailySaidi } from './daily.js';
import { DEFAULT_TIME_ZONE, localDay, nextDay } from './local-days.js';
import type { Period, ReliabilityInput } from './types.js';

/**
 * Major event days, IEEE 1366 "2.5 beta" method: from daily SAIDI (zero days dropped, as ln 0
 * is undefined), α = mean(ln SAIDI), β = stdev(ln SAIDI), T_MED = exp(α + 2.5β). β is the
 * SAMPLE standard deviation (n − 1 denominator) — the usual spreadsheet STDEV; our choice,
 * documented because a population stdev gives a lower T_MED — hence at least two non-zero
 * days are needed.
 */
export interface MajorEventThreshold {
  /** mean of ln(daily SAIDI in minutes). */
  alpha: number;
  /** sample standard deviation of ln(daily SAIDI). */
  beta: number;
  /** T_MED, SAIDI minutes per day; a day strictly above it is a major event day. */
  thresholdMinutes: number;
  /** Number of non-zero days used. */
  sampleSize: number;
}

/** T_MED from daily SAIDI values (minutes); null with fewer than two non-zero days. */
export function majorEventThreshold(dailyValues: readonly number[]): MajorEventThreshold | null {
  const logs = dailyValues.filter((v) => Number.isFinite(v) && v > 0).map(Math.log);
  const n = logs.length;
  if (n < 2) return null;
  const alpha = logs.reduce((s, x) => s + x, 0) / n;
  const beta = Math.sqrt(logs.reduce((s, x) => s + (x - alpha) ** 2, 0) / (n - 1));
  return { alpha, beta, thresholdMinutes: Math.exp(alpha + 2.5 * beta), sampleSize: n };
}

/** Days whose SAIDI exceeds the threshold (strictly); none when the threshold is null. */
export function majorEventDays(
  daily: readonly { day: string; saidiMinutes: number }[],
  threshold: MajorEventThreshold | number | null,
): string[] {
  if (threshold === null) return [];
  const t = typeof threshold === 'number' ? threshold : threshold.thresholdMinutes;
  return daily.filter((d) => d.saidiMinutes > t).map((d) => d.day);
}

/**
 * The history IEEE 1366 uses for a reporting year: days in [endDay − years, endDay), default
 * five years. Days are 'YYYY-MM-DD', so the comparison is lexical.
 */
export function medHistory<T extends { day: string }>(daily: readonly T[], endDay: string, years = 5): T[] {
  const y = Number(endDay.slice(0, 4));
  const startDay = `${String(y - years).padStart(4, '0')}${endDay.slice(4)}`;
  return daily.filter((d) => d.day >= startDay && d.day < endDay);
}

export interface MajorEventDaysResult {
  /** T_MED from the history; null when the history has fewer than two non-zero days. */
  threshold: MajorEventThreshold | null;
  /** Local days of the period whose SAIDI exceeds T_MED. */
  days: string[];
  /** Local days used as history [fromDay, toDay) and the period's days [fromDay, toDay). */
  historyDays: { fromDay: string; toDay: string };
  periodDays: { fromDay: string; toDay: string };
}

/**
 * The whole 2.5β procedure for a report: T_MED from the `years` (default 5) years of daily
 * SAIDI before the period's first local day, applied to the period's local days. `input`
 * must hold the outages and offline windows of the history too.
 */
export function findMajorEventDays(
  input: ReliabilityInput,
  options: { period: Period; timeZone?: string; years?: number; attribution?: DailySaidiOptions['attribution'] },
): MajorEventDaysResult {
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE;
  const years = options.years ?? 5;
  const fromDay = localDay(options.period.from, timeZone);
  const toDay = nextDay(localDay(options.period.to - 1, timeZone));
  const historyFrom = `${String(Number(fromDay.slice(0, 4)) - years).padStart(4, '0')}${fromDay.slice(4)}`;
  const common = { timeZone, ...(options.attribution ? { attribution: options.attribution } : {}) };
  const history = dailySaidi(input, { ...common, fromDay: historyFrom, toDay: fromDay });
  const threshold = majorEventThreshold(history.map((d) => d.saidiMinutes));
  const days = majorEventDays(dailySaidi(input, { ...common, fromDay, toDay }), threshold);
  return { threshold, days, historyDays: { fromDay: historyFrom, toDay: fromDay }, periodDays: { fromDay, toDay } };
}
