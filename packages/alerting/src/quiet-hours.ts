import { partsOf, zonedFormat } from '@spms/reliability';
import type { QuietHours } from './types.js';

const clockFormat = zonedFormat('en-GB', { hour: '2-digit', minute: '2-digit' });

/** Minutes since local midnight in `timeZone`. */
export function localMinutes(at: Date, timeZone: string): number {
  const p = partsOf(clockFormat(timeZone), at);
  return Number(p.hour) * 60 + Number(p.minute);
}

export function parseClock(hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new RangeError(`not a HH:MM time: ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Inside [start, end) local time; a window that wraps midnight (22:00–06:00) is handled; start = end is empty. */
export function isQuietTime(quiet: QuietHours | null, at: Date, timeZone = 'Asia/Colombo'): boolean {
  if (!quiet) return false;
  const start = parseClock(quiet.start);
  const end = parseClock(quiet.end);
  const now = localMinutes(at, timeZone);
  if (start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}
