/**
 * Which SMS provider the processes that send texts use, from their Redis heartbeats
 * (packages/queue contracts: smsSenderKey). `mode`: `twilio` or `smpp` (texts are sent),
 * `console` (texts are only logged: no provider configured), `mixed`, or `none` (no process
 * sends texts: alerts disabled, or every worker down for more than the heartbeat's TTL).
 * `replies`: whether recipients can answer texts (ACK): false when a sender is an
 * alphanumeric sender id (or only logs), null when nothing sends.
 */
import { smsSenderPattern } from '@spms/queue';
import type { Redis } from 'ioredis';

export interface SmsSenders {
  mode: 'twilio' | 'smpp' | 'console' | 'mixed' | 'none';
  replies: boolean | null;
  senders: { provider: string; replies: boolean; at: number }[];
}

export async function readSmsSenders(redis: Redis, prefix: string): Promise<SmsSenders> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', smsSenderPattern(prefix), 'COUNT', 200);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && keys.length < 1000);
  const values = keys.length > 0 ? await redis.mget(...keys) : [];
  const senders: SmsSenders['senders'] = [];
  for (const v of values) {
    if (!v) continue; // expired between SCAN and MGET
    try {
      const s = JSON.parse(v) as { provider?: unknown; replies?: unknown; at?: unknown };
      if (typeof s.provider === 'string' && typeof s.at === 'number')
        senders.push({ provider: s.provider, replies: s.replies === true, at: s.at });
    } catch {
      // a foreign value under our prefix: not a sender
    }
  }
  const kinds = new Set(senders.map((s) => s.provider));
  const only = [...kinds][0];
  const mode =
    kinds.size === 0 ? 'none' : kinds.size > 1 ? 'mixed' : only === 'twilio' || only === 'smpp' ? only : 'console';
  const replies = senders.length === 0 ? null : senders.every((s) => s.replies);
  return { mode, replies, senders };
}
