/**
 * Whether alert and report e-mails go out, from the worker processes' heartbeats
 * (packages/queue: emailSenderKey). `mode`: `smtp` (sent), `off` (alert processes run
 * without SMTP_URL: e-mails are not sent), `mixed`, or `none` (no alert process runs).
 */
import { emailSenderPattern } from '@spms/queue';
import type { Redis } from 'ioredis';

export interface EmailSenders {
  mode: 'smtp' | 'off' | 'mixed' | 'none';
  senders: { mode: string; at: number }[];
}

export async function readEmailSenders(redis: Redis, prefix: string): Promise<EmailSenders> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', emailSenderPattern(prefix), 'COUNT', 200);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && keys.length < 1000);
  const values = keys.length > 0 ? await redis.mget(...keys) : [];
  const senders: EmailSenders['senders'] = [];
  for (const v of values) {
    if (!v) continue;
    try {
      const s = JSON.parse(v) as { mode?: unknown; at?: unknown };
      if ((s.mode === 'smtp' || s.mode === 'off') && typeof s.at === 'number') senders.push({ mode: s.mode, at: s.at });
    } catch {
      // not a heartbeat
    }
  }
  const kinds = new Set(senders.map((s) => s.mode));
  const mode = kinds.size === 0 ? 'none' : kinds.size > 1 ? 'mixed' : kinds.has('smtp') ? 'smtp' : 'off';
  return { mode, senders };
}

/** The warning a recipient on the e-mail channel gets when e-mails would not go out now. */
export function emailWarning(mode: EmailSenders['mode']): string | null {
  if (mode === 'smtp') return null;
  if (mode === 'mixed')
    return 'e-mail is only partly on: some alert workers have no SMTP_URL, so some alert e-mails are not sent';
  if (mode === 'off')
    return 'e-mail is off: the alert workers have no SMTP_URL, so this recipient gets no e-mail until it is set';
  return 'no alert worker is running: nothing sends e-mail (or texts) at the moment';
}
