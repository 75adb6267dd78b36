/**
 * Alert texts, each built to fit one SMS segment (160 GSM-7 characters): a multi-part SMS
 * costs more, and some handsets show the parts out of order. Names come from operators and
 * may be long or contain non-GSM characters, so names are shortened (never the facts) until
 * the text fits. Times are local (Asia/Colombo, UTC+05:30, no DST), as operators read them.
 */
import { partsOf, zonedFormat } from '@spms/reliability';
import { fitsOneSegment, toGsmSafe } from './segments.js';

export interface FormatOptions {
  /** IANA zone for clock times. Default 'Asia/Colombo'. */
  timeZone?: string;
  /** First word of every text, so recipients recognise the sender. Default 'SPMS'. */
  prefix?: string;
}

const DEFAULT_TZ = 'Asia/Colombo';

const localTimeFormat = zonedFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

/** '27 Nov 14:05' in the given zone (24-hour clock). */
export function formatLocalTime(at: Date, timeZone = DEFAULT_TZ): string {
  const p = partsOf(localTimeFormat(timeZone), at);
  return `${p.day} ${p.month} ${p.hour}:${p.minute}`;
}

/** 45_000 → '45 s', 4_320_000 → '1 h 12 min', 2 days 3 h → '2 d 3 h'. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.max(0, ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

function clean(name: string): string {
  return toGsmSafe(name).replace(/\s+/g, ' ').trim();
}

// Line labels are short by convention ('CEB', 'Generator'); a runaway one is capped so the
// site name is not shortened to nothing to make room for it.
const MAX_LABEL = 20;
function label(line: string): string {
  const chars = [...clean(line)];
  return chars.length <= MAX_LABEL
    ? chars.join('')
    : `${chars
        .slice(0, MAX_LABEL - 2)
        .join('')
        .trimEnd()}..`;
}

/**
 * Builds `template(name)` with `name` shortened ('Kollupitiya Sub..') until the text is one
 * segment. Gives up at 6 characters of name and returns that (still valid, just 2 parts).
 */
export function fitName(template: (name: string) => string, name: string): string {
  const chars = [...name]; // code points, so a surrogate pair is never cut in half
  let text = template(name);
  for (let len = chars.length - 1; len >= 6 && !fitsOneSegment(text); len--) {
    text = template(`${chars.slice(0, len).join('').trimEnd()}..`);
  }
  return text;
}

export interface OutageInput {
  site: string;
  /** The line's label as configured, e.g. 'CEB', 'Generator'. */
  line: string;
  /** When supply was lost (the event time, not the time of the text). */
  since: Date;
}

/** 'SPMS ALERT: Kollupitiya - CEB supply lost 27 Nov 14:05' */
export function formatOutageSms(input: OutageInput, opts: FormatOptions = {}): string {
  const head = `${opts.prefix ?? 'SPMS'} ALERT`;
  const when = formatLocalTime(input.since, opts.timeZone);
  const line = label(input.line);
  return fitName((site) => `${head}: ${site} - ${line} supply lost ${when}`, clean(input.site));
}

export interface RestorationInput extends OutageInput {
  restoredAt: Date;
}

/** 'SPMS OK: Kollupitiya - CEB restored after 1 h 12 min (27 Nov 15:17)' */
export function formatRestorationSms(input: RestorationInput, opts: FormatOptions = {}): string {
  const head = `${opts.prefix ?? 'SPMS'} OK`;
  const took = formatDuration(input.restoredAt.getTime() - input.since.getTime());
  const when = formatLocalTime(input.restoredAt, opts.timeZone);
  const line = label(input.line);
  return fitName((site) => `${head}: ${site} - ${line} restored after ${took} (${when})`, clean(input.site));
}

export interface GroupSummaryInput {
  /** Region or group name, e.g. 'Western'. */
  region: string;
  /** Sites that lost supply in the group window. */
  count: number;
  line: string;
  /** Earliest loss in the group. */
  since: Date;
  /** Names to list while they fit, most important first. */
  sites?: string[];
}

/** 'SPMS ALERT: Western: 37 sites lost CEB supply since 27 Nov 14:05 (Kollupitiya, Borella, +35 more)' */
export function formatGroupSummary(input: GroupSummaryInput, opts: FormatOptions = {}): string {
  const head = `${opts.prefix ?? 'SPMS'} ALERT`;
  const when = formatLocalTime(input.since, opts.timeZone);
  const what = `${input.count} ${input.count === 1 ? 'site' : 'sites'} lost ${label(input.line)} supply since ${when}`;
  const base = fitName((region) => `${head}: ${region}: ${what}`, clean(input.region));
  // List as many site names as fit; the count above stays the authoritative figure.
  const names = (input.sites ?? []).map(clean).filter((n) => n !== '');
  let best = base;
  for (let n = 1; n <= names.length; n++) {
    const rest = input.count - n;
    const list = names.slice(0, n).join(', ') + (rest > 0 ? `, +${rest} more` : '');
    const candidate = `${base} (${list})`;
    if (!fitsOneSegment(candidate)) break;
    best = candidate;
  }
  return best;
}

export interface FlappingInput {
  site: string;
  line: string;
  /** State changes counted in the window. */
  changes: number;
  windowMs: number;
}

/** 'SPMS: Kollupitiya - CEB is flapping (12 changes in 30 min). Alerts held until it settles.' */
export function formatFlappingNotice(input: FlappingInput, opts: FormatOptions = {}): string {
  const line = label(input.line);
  const window = formatDuration(input.windowMs);
  return fitName(
    (site) =>
      `${opts.prefix ?? 'SPMS'}: ${site} - ${line} is flapping (${input.changes} changes in ${window}). Alerts held until it settles.`,
    clean(input.site),
  );
}

export interface OfflineInput {
  site: string;
  /** Last time the device was heard from. */
  since: Date;
}

/** 'SPMS ALERT: Kollupitiya monitor offline since 27 Nov 14:05 (power or 4G lost). Line states unknown.' */
export function formatDeviceOfflineSms(input: OfflineInput, opts: FormatOptions = {}): string {
  const when = formatLocalTime(input.since, opts.timeZone);
  return fitName(
    (site) =>
      `${opts.prefix ?? 'SPMS'} ALERT: ${site} monitor offline since ${when} (power or 4G lost). Line states unknown.`,
    clean(input.site),
  );
}
