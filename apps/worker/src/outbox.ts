/**
 * Domain events leave through an outbox: they are inserted in the same transaction as the
 * change (skipping ids already stored: the id is deterministic, so a re-processed batch adds
 * nothing), published after COMMIT to the durable `domain-events` queue (the types the alerts
 * act on, QUEUED_EVENT_TYPES; jobId = event id: BullMQ ignores an add whose jobId exists) and
 * to the live pub/sub channel, then marked published. A crash between COMMIT and publish
 * leaves them unpublished; the relay (run by the sweeper leader) publishes those. The queue side is exactly-once; pub/sub is
 * at-least-once in that crash case (live views tolerate a repeat).
 *
 * Commit order (`seq`): `insertEventsAndCommit` is the ONLY writer of domain_events. It takes
 * one global transaction-scoped advisory lock, inserts the events numbered with
 * nextval('domain_events_seq'), and commits, all as the last statements of the transaction.
 * PostgreSQL makes a commit visible before it releases the transaction's locks, so the next
 * holder's nextval() values are larger than every seq already committed, and they commit
 * later. Hence seq order equals commit order, and a reader that has every event up to seq N
 * gets every later event with "seq > N" (no event can commit later with a smaller seq).
 * Numbers skipped by a rollback after the insert (failed COMMIT) or by a sequence reset are
 * holes, never pending events: once seq N is visible, everything below N is committed.
 * The lock is held for one INSERT and the COMMIT only (transactions without new events never
 * take it); the two-int4 lock space never collides with the per-device bigint locks.
 */

import {
  type DOMAIN_EVENTS_QUEUE,
  type DomainEvent,
  domainEventJob,
  domainEventsChannel,
  isQueuedEvent,
  type JobProducer,
} from '@spms/contracts';
import type { Pool, PoolClient } from '@spms/db';
import type { JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { tsParam } from './persist/sql.js';

/** pg_advisory_xact_lock(int4, int4) key of the commit-order lock ('spms', 'evnt'). */
export const EVENT_ORDER_LOCK = 'SELECT pg_advisory_xact_lock(1936748915, 1702260340)';

// Under the lock no other writer can insert an id between the NOT EXISTS check and the
// insert, so nextval() is spent only on new events (no holes from repeats); ON CONFLICT stays
// as a guard. ORDER BY: volatile output expressions are evaluated after the sort, so a
// batch's events are numbered in the order they were produced.
const INSERT = `
INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
SELECT i, t, d, ${tsParam('o')}, p::jsonb, nextval('domain_events_seq')
  FROM unnest($1::text[], $2::text[], $3::uuid[], $4::float8[], $5::text[]) WITH ORDINALITY AS x(i, t, d, o, p, n)
 WHERE NOT EXISTS (SELECT 1 FROM domain_events e WHERE e.id = x.i)
 ORDER BY n
ON CONFLICT (id) DO NOTHING RETURNING id, seq`;

/** The events once each (first occurrence wins), in order. */
function uniqueEvents(events: DomainEvent[]): DomainEvent[] {
  const byId = new Map<string, DomainEvent>();
  for (const e of events) if (!byId.has(e.id)) byId.set(e.id, e);
  return [...byId.values()];
}

/**
 * Ends the caller's open transaction: stores the events that are new, numbered in commit
 * order, and COMMITs. Returns the new events with their `seq` (to publish after COMMIT).
 * Call it instead of COMMIT, after every other statement of the transaction (nothing slow,
 * e.g. a Redis round trip, may run while the lock is held). On error the caller rolls back.
 */
export async function insertEventsAndCommit(client: PoolClient, events: DomainEvent[]): Promise<DomainEvent[]> {
  if (events.length === 0) {
    await client.query('COMMIT');
    return [];
  }
  const unique = uniqueEvents(events);
  await client.query(EVENT_ORDER_LOCK);
  const { rows } = await client.query<{ id: string; seq: string }>(INSERT, [
    unique.map((e) => e.id),
    unique.map((e) => e.type),
    unique.map((e) => e.deviceId),
    unique.map((e) => e.occurredAt),
    unique.map((e) => JSON.stringify(e.payload)),
  ]);
  await client.query('COMMIT');
  const seqs = new Map(rows.map((r) => [r.id, Number(r.seq)]));
  return unique.filter((e) => seqs.has(e.id)).map((e) => ({ ...e, seq: seqs.get(e.id) as number }));
}

export class EventPublisher {
  constructor(
    private readonly pool: Pool,
    private readonly queue: JobProducer<typeof DOMAIN_EVENTS_QUEUE, JobsOptions>,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async publish(events: DomainEvent[]): Promise<void> {
    await this.send(events);
    await this.markPublished(events);
  }

  /** The Redis half of `publish`: the durable queue (the types the alerts act on) and the live channel (all). */
  async send(events: DomainEvent[]): Promise<void> {
    if (events.length === 0) return;
    const channel = domainEventsChannel(this.prefix);
    const pipe = this.redis.pipeline();
    for (const e of events) pipe.publish(channel, JSON.stringify(e));
    const queued = events.filter(isQueuedEvent);
    // Both at once (one Redis round trip less); each is in commit order on its own.
    await Promise.all([queued.length ? this.queue.addBulk(queued.map(domainEventJob)) : null, pipe.exec()]);
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
      seq: string;
    }>(
      `SELECT id, type, device_id::text, (extract(epoch from occurred_at) * 1000)::float8 AS occurred_at, payload,
              seq::text
         FROM domain_events WHERE published_at IS NULL AND created_at < now() - $1 * interval '1 millisecond'
        ORDER BY seq LIMIT $2`,
      [olderThanMs, limit],
    );
    await this.publish(
      // Each row was stored from a DomainEvent (insertEventsAndCommit): its payload is that type's.
      rows.map(
        (r) =>
          ({
            id: r.id,
            type: r.type,
            deviceId: r.device_id,
            occurredAt: Math.round(r.occurred_at),
            payload: r.payload,
            seq: Number(r.seq),
          }) as DomainEvent,
      ),
    );
    return rows.length;
  }
}
