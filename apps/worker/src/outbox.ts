/**
 * Domain events leave through an outbox: they are inserted in the same transaction as the
 * change (ON CONFLICT DO NOTHING on the deterministic id, so a re-processed batch adds
 * nothing), published after COMMIT to the durable `domain-events` queue (jobId = event id:
 * BullMQ ignores an add whose jobId exists) and to the live pub/sub channel, then marked
 * published. A crash between COMMIT and publish leaves them unpublished; the relay (run by
 * the sweeper leader) publishes those. The queue side is exactly-once; pub/sub is
 * at-least-once in that crash case (live views tolerate a repeat).
 */
import type { Pool, PoolClient } from '@spms/db';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type DomainEvent, domainEventsChannel } from './events.js';
import { tsParam } from './persist/sql.js';

const INSERT = `
INSERT INTO domain_events (id, type, device_id, occurred_at, payload)
SELECT i, t, d, ${tsParam('o')}, p::jsonb FROM unnest($1::text[], $2::text[], $3::uuid[], $4::float8[], $5::text[]) AS x(i, t, d, o, p)
ON CONFLICT (id) DO NOTHING RETURNING id`;

/** Stores the events; returns those that are new (to publish after COMMIT). */
export async function storeEvents(client: PoolClient, events: DomainEvent[]): Promise<DomainEvent[]> {
  if (events.length === 0) return [];
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  const { rows } = await client.query<{ id: string }>(INSERT, [
    unique.map((e) => e.id),
    unique.map((e) => e.type),
    unique.map((e) => e.deviceId),
    unique.map((e) => e.occurredAt),
    unique.map((e) => JSON.stringify(e.payload)),
  ]);
  const fresh = new Set(rows.map((r) => r.id));
  return unique.filter((e) => fresh.has(e.id));
}

export class EventPublisher {
  constructor(
    private readonly pool: Pool,
    private readonly queue: Queue,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.queue.addBulk(events.map((e) => ({ name: e.type, data: e, opts: { jobId: e.id } })));
    const channel = domainEventsChannel(this.prefix);
    const pipe = this.redis.pipeline();
    for (const e of events) pipe.publish(channel, JSON.stringify(e));
    await pipe.exec();
    await this.pool.query('UPDATE domain_events SET published_at = now() WHERE id = ANY($1::text[])', [
      events.map((e) => e.id),
    ]);
  }

  /** Publishes events left unpublished by a crash (older than `olderThanMs`). */
  async relay(olderThanMs = 5000, limit = 500): Promise<number> {
    const { rows } = await this.pool.query<{
      id: string;
      type: DomainEvent['type'];
      device_id: string;
      occurred_at: number;
      payload: Record<string, unknown>;
    }>(
      `SELECT id, type, device_id::text, (extract(epoch from occurred_at) * 1000)::float8 AS occurred_at, payload
         FROM domain_events WHERE published_at IS NULL AND created_at < now() - $1 * interval '1 millisecond'
        ORDER BY created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    await this.publish(
      rows.map((r) => ({
        id: r.id,
        type: r.type,
        deviceId: r.device_id,
        occurredAt: Math.round(r.occurred_at),
        payload: r.payload,
      })),
    );
    return rows.length;
  }
}
