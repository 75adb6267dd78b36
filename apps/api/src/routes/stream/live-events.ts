/**
 * Reading the domain_events outbox by its commit-ordered `seq` (the worker numbers events
 * under a global lock as the last step before COMMIT, apps/worker/src/outbox.ts): once an
 * event with seq N is visible, every event with a smaller seq is committed too. So "events
 * after N" read at any moment is complete up to its last row, and a reader that keeps the
 * largest seq it has seen as its cursor never misses an event that commits later. Missing
 * numbers are holes (a rolled-back numbering), never events still to come.
 * Used by the SSE stream (resume and gap filling); the cursor of "events since" readers.
 */
import type { DomainEvent } from '@spms/contracts';
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

/** A committed domain event (@spms/contracts) as the live views send it. */
export interface LiveEvent {
  /** Commit-order number: the SSE event id and the resume cursor. */
  seq: number;
  /** The event's own deterministic id (stable across re-processing). */
  id: DomainEvent['id'];
  type: DomainEvent['type'];
  /** null: the device was deleted since. */
  deviceId: string | null;
  occurredAt: DomainEvent['occurredAt'];
  payload: unknown;
}

/** A resume cursor as sent back by a client: a non-negative integer seq, else null. */
export function parseSeq(value: string | undefined | null): number | null {
  if (typeof value !== 'string' || !/^[0-9]{1,15}$/.test(value)) return null;
  return Number(value);
}

/**
 * Events with seq > `seq` visible to `scope`, oldest first, at most `limit`; `upTo` bounds
 * the range (inclusive). Events of no device (or a deleted one) are visible only to callers
 * who see the whole fleet.
 */
export async function readEventsAfter(
  pg: Pool,
  seq: number,
  scope: Scope | null,
  limit: number,
  upTo?: number,
): Promise<LiveEvent[]> {
  const p = new SqlParams();
  const after = p.add(seq);
  const bound = upTo === undefined ? '' : `AND e.seq <= ${p.add(upTo)}`;
  const join = scope ? 'JOIN devices d ON d.id = e.device_id' : '';
  const visible = scope ? scopeCondition(scope, 'd', p) : 'TRUE';
  const res = await pg.query<{
    seq: string;
    id: string;
    type: DomainEvent['type'];
    device_id: string | null;
    occurred_at: Date;
    payload: unknown;
  }>(
    `SELECT e.seq::text, e.id, e.type, e.device_id::text, e.occurred_at, e.payload
       FROM domain_events e ${join}
      WHERE e.seq > ${after} ${bound} AND ${visible}
      ORDER BY e.seq
      LIMIT ${p.add(limit)}`,
    p.values,
  );
  return res.rows.map((r) => ({
    seq: Number(r.seq),
    id: r.id,
    type: r.type,
    deviceId: r.device_id,
    occurredAt: r.occurred_at.getTime(),
    payload: r.payload,
  }));
}

/** The smallest and largest stored seq (0, 0 when there is none). */
export async function readSeqRange(pg: Pool): Promise<{ min: number; max: number }> {
  const res = await pg.query<{ min: string | null; max: string | null }>(
    'SELECT min(seq)::text AS min, max(seq)::text AS max FROM domain_events',
  );
  const row = res.rows[0];
  return { min: Number(row?.min ?? 0), max: Number(row?.max ?? 0) };
}
