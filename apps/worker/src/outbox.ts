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

/** Insert of events, $N-numbered from `first`, returning the new ids (usable as a CTE). */
export const insertEventsSql = (first: number) => `
INSERT INTO domain_events (id, type, device_id, occurred_at, payload)
SELECT i, t, d, ${tsParam('o')}, p::jsonb
  FROM unnest($${first}::text[], $${first + 1}::text[], $${first + 2}::uuid[], $${first + 3}::float8[], $${first + 4}::text[])
       AS x(i, t, d, o, p)
ON CONFLICT (id) DO NOTHING RETURNING id`;
const INSERT = insertEventsSql(1);

/** The events once each, and their columns for `insertEventsSql`. */
export function eventColumns(events: DomainEvent[]): { unique: DomainEvent[]; columns: unknown[][] } {
  const unique = [...new Map(events.map((e) => [e.id, e])).values()];
  return {
    unique,
    columns: [
      unique.map((e) => e.id),
      unique.map((e) => e.type),
      unique.map((e) => e.deviceId),
      unique.map((e) => e.occurredAt),
      unique.map((e) => JSON.stringify(e.payload)),
    ],
  };
}

/** Stores the events; returns those that are new (to publish after COMMIT). */
export async function storeEvents(client: PoolClient, events: DomainEvent[]): Promise<DomainEvent[]> {
  if (events.length === 0) return [];
  const { unique, columns } = eventColumns(events);
  const { rows } = await client.query<{ id: string }>(INSERT, columns);
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
    await this.send(events);
    await this.markPublished(events);
  }

  /** The Redis half of `publish`: the durable queue and the live channel. */
  async send(events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
    const channel = domainEventsChannel(this.prefix);
    const pipe = this.redis.pipeline();
    for (const e of events) pipe.publish(channel, JSON.stringify(e));
    // Both at once (one Redis round trip less); each is in commit order on its own.
    await Promise.all([
      this.queue.addBulk(events.map((e) => ({ name: e.type, data: e, opts: { jobId: e.id } }))),
      pipe.exec(),
    ]);
  }

  /** The PostgreSQL half of `publish`: the relay skips these from now on. */
  async markPublished(events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
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
