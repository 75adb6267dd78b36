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
