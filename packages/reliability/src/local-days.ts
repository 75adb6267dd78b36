/**
 * Local calendar days of an IANA time zone, via Intl (no dependency). Asia/Colombo is a fixed
 * UTC+05:30, but the fleet's zone is configurable, so the offset is looked up per instant
 * instead of being hard-coded.
 */

import { firstEndingAfter } from './intervals.js';
import { partsOf, zonedFormat } from './time-zone.js';

/** The fleet's zone (Sri Lanka, UTC+05:30, no DST). */
export const DEFAULT_TIME_ZONE = 'Asia/Colombo';

/** A local day: 'YYYY-MM-DD' and its bounds [from, to) as UTC instants. */
export interface LocalDay {
  day: string;
  from: number;
  to: number;
}

// Throws RangeError for an unknown zone: a bad configuration fails loudly.
const wallClockFormat = zonedFormat('en-US', {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

function wallClock(t: number, timeZone: string): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const p = partsOf(wallClockFormat(timeZone), t);
  return {
    y: Number(p.year),
    m: Number(p.month),
    d: Number(p.day),
    h: Number(p.hour),
    mi: Number(p.minute),
    s: Number(p.second),
  };
}

/** Offset of the zone from UTC at instant t, in ms (Colombo: +19 800 000). */
export function timeZoneOffsetMs(t: number, timeZone: string = DEFAULT_TIME_ZONE): number {
  const w = wallClock(t, timeZone);
  const whole = Math.floor(t / 1000) * 1000;
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - whole;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The local day ('YYYY-MM-DD') containing instant t. */
export function localDay(t: number, timeZone: string = DEFAULT_TIME_ZONE): string {
  const w = wallClock(t, timeZone);
  return `${pad(w.y, 4)}-${pad(w.m)}-${pad(w.d)}`;
}

function parseDay(day: string): [number, number, number] {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) throw new RangeError(`invalid day "${day}", expected YYYY-MM-DD`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** The day after `day` (calendar arithmetic, zone-independent). */
export function nextDay(day: string): string {
  const [y, m, d] = parseDay(day);
  const t = new Date(Date.UTC(y, m - 1, d + 1));
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** UTC instant of local midnight starting `day`. */
export function localDayStart(day: string, timeZone: string = DEFAULT_TIME_ZONE): number {
  const [y, m, d] = parseDay(day);
  const wall = Date.UTC(y, m - 1, d);
  // Two fixed-point steps: the offset at the guess, then at the corrected instant (DST zones).
  let t = wall - timeZoneOffsetMs(wall, timeZone);
  t = wall - timeZoneOffsetMs(t, timeZone);
  return t;
}

/** Local days fromDay (inclusive) … toDay (exclusive) with their UTC bounds. */
export function localDays(fromDay: string, toDay: string, timeZone: string = DEFAULT_TIME_ZONE): LocalDay[] {
  const days: LocalDay[] = [];
  if (toDay <= fromDay) return days;
  let day = fromDay;
  let from = localDayStart(day, timeZone);
  while (day < toDay) {
    const next = nextDay(day);
    const to = localDayStart(next, timeZone);
    days.push({ day, from, to });
    day = next;
    from = to;
  }
  return days;
}

/** Index of the day containing t in sorted contiguous `days`, or -1 outside them. */
export function dayIndex(days: readonly LocalDay[], t: number): number {
  const lo = firstEndingAfter(days, t);
  const d = days[lo];
  return d && d.from <= t ? lo : -1;
}
