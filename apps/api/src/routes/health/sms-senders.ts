/**
 * Which SMS provider the processes that send texts use, from their Redis heartbeats
 * (packages/queue contracts: smsSenderKey). `mode`: `twilio` (texts are sent), `console`
 * (texts are only logged: no provider configured), `mixed`, or `none` (no process sends
 * texts: alerts disabled, or every worker down for more than the heartbeat's TTL).
 */
import { smsSenderPattern } from '@spms/queue';
import type { Redis } from 'ioredis';

export interface SmsSenders {
  mode: 'twilio' | 'console' | 'mixed' | 'none';
  senders: { provider: string; at: number }[];
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
      const s = JSON.parse(v) as { provider?: unknown; at?: unknown };
      if (typeof s.provider === 'string' && typeof s.at === 'number') senders.push({ provider: s.provider, at: s.at });
    } catch {
      // a foreign value under our prefix: not a sender
    }
  }
  const kinds = new Set(senders.map((s) => s.provider));
  const mode = kinds.size === 0 ? 'none' : kinds.size > 1 ? 'mixed' : kinds.has('twilio') ? 'twilio' : 'console';
  return { mode, senders };
}
