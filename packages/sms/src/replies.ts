/**
 * Replies by SMS, without I/O: what a reply asks for, and the short code that makes
 * `ACK <code>` name one text. A code is added to a text only when replies are possible and
 * only if the text still fits one segment with it.
 */
import { fitsOneSegment } from './segments.js';

export type ReplyCommand = { kind: 'ack'; code?: string; all?: boolean } | { kind: 'other' };

/** 'ACK', 'ack 123', 'Ack#123', 'ACK ALL' (case and spacing ignored); anything else is 'other'. */
export function parseReply(text: string): ReplyCommand {
  const m = /^\s*ACK\b\s*#?\s*([A-Z0-9]{1,8})?\s*[.!]?\s*$/i.exec(text.normalize('NFKC'));
  if (!m) return { kind: 'other' };
  const arg = m[1]?.toUpperCase();
  if (!arg) return { kind: 'ack' };
  if (arg === 'ALL') return { kind: 'ack', all: true };
  return { kind: 'ack', code: arg };
}

/** Texts about something that can be acknowledged (not restorations or summaries of held texts). */
export const ACKNOWLEDGEABLE_KINDS = new Set(['outage', 'device_offline', 'voltage', 'flapping']);

/** The text with ' Reply ACK 123' (or the shorter ' ACK 123') when that still fits one segment, else undefined. */
export function withReplyCode(body: string, code: string): string | undefined {
  for (const suffix of [` Reply ACK ${code}`, ` ACK ${code}`]) {
    const t = `${body.trimEnd()}${suffix}`;
    if (fitsOneSegment(t)) return t;
  }
  return undefined;
}

/**
 * A 3-digit code not in `taken`, starting from a point derived from the notification id so
 * two texts composed at once for one number start apart; 4 digits once all 900 are taken.
 */
export function pickReplyCode(notificationId: number, taken: ReadonlySet<string>): string {
  for (let i = 0; i < 900; i++) {
    const c = String(100 + ((notificationId + i * 7) % 900));
    if (!taken.has(c)) return c;
  }
  for (let i = 0; i < 9000; i++) {
    const c = String(1000 + ((notificationId + i) % 9000));
    if (!taken.has(c)) return c;
  }
  return String(notificationId);
}

/** The short answer texts (GSM-7, one segment). */
export const REPLY_TEXTS = {
  acknowledged: (n: number) => `SPMS: acknowledged ${n} alert${n === 1 ? '' : 's'}. Thank you.`,
  nothingOpen: 'SPMS: no open alert for this number.',
  unknownCode: (code: string) => `SPMS: no open alert with code ${code}. Reply ACK and the code in the alert text.`,
  ambiguous: (texts: number) =>
    `SPMS: ${texts} alert texts are open. Reply ACK and the code in the text (e.g. ACK 123), or ACK ALL.`,
} as const;
