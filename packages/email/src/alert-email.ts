/**
 * An alert e-mail: the same grouped message as the text (its SMS body is the subject, so
 * both channels say the same thing), and a body with what a text has no room for — every
 * site, line, region and time, in local time.
 */
import { humanDuration, localDateTime } from './format.js';

export interface AlertEmailItem {
  /** outage, restoration, device_offline, device_online, voltage, flapping */
  kind: string;
  site: string;
  device?: string | null;
  line: string | null;
  region: string | null;
  since: number;
  endedAt: number | null;
  voltage?: 'under' | 'over' | null;
  changes?: number;
}

export interface ComposedEmail {
  subject: string;
  text: string;
}

const WHAT: Record<string, string> = {
  outage: 'power lost',
  restoration: 'power restored',
  device_offline: 'monitor offline',
  device_online: 'monitor back online',
  voltage: 'abnormal voltage',
  flapping: 'line flapping',
};

function itemLine(i: AlertEmailItem, timeZone: string): string {
  const what = i.kind === 'voltage' && i.voltage ? `${i.voltage}-voltage` : (WHAT[i.kind] ?? i.kind);
  const where = [i.site, i.device && i.device !== i.site ? `(${i.device})` : null, i.line ? `line ${i.line}` : null]
    .filter(Boolean)
    .join(' ');
  const parts = [`- ${where}: ${what}`];
  if (i.region) parts.push(`region ${i.region}`);
  parts.push(`since ${localDateTime(i.since, timeZone)}`);
  if (i.endedAt !== null && (i.kind === 'restoration' || i.kind === 'device_online'))
    parts.push(`until ${localDateTime(i.endedAt, timeZone)} (${humanDuration(i.endedAt - i.since)})`);
  if (i.kind === 'flapping' && i.changes) parts.push(`${i.changes} changes`);
  return parts.join(', ');
}

/** Subject: the text message itself (one line); body: the text, then one line per item. */
export function composeAlertEmail(
  smsText: string,
  items: AlertEmailItem[],
  opts: { timeZone: string; dashboardUrl?: string },
): ComposedEmail {
  const subject = smsText.replace(/[\r\n]+/g, ' ').trim();
  const lines = [
    smsText,
    '',
    ...[...items].sort((a, b) => a.since - b.since).map((i) => itemLine(i, opts.timeZone)),
    '',
    `Times are local (${opts.timeZone}).`,
  ];
  if (opts.dashboardUrl) lines.push(`Dashboard: ${opts.dashboardUrl}`);
  lines.push('You get this because you are an SPMS alert recipient; an administrator can change your channel.');
  return { subject, text: lines.join('\n') };
}
