/**
 * Live domain events for Server-Sent Events clients. One Redis subscriber per API process
 * listens on the worker's `${REDIS_PREFIX}:events` channel and fans each event out to the
 * clients whose scope covers the event's device (device → region/customer cached briefly).
 * Resume (Last-Event-ID) replays from the domain_events outbox table, ordered by
 * (created_at, id), so it works across API processes and restarts.
 */
import type { Pool } from '@spms/db';
import type { Redis } from 'ioredis';
import type { Scope } from '../plugins/auth.js';
import { inScope, SqlParams, scopeCondition } from './scope.js';

export interface LiveEvent {
  id: string;
  type: string;
  deviceId: string | null;
  occurredAt: number;
  payload: unknown;
}

export interface LiveClient {
  scope: Scope | null;
  send(e: LiveEvent): void;
  /** Ends the response (server shutdown). */
  end(): void;
}

interface DeviceScope {
  region: string | null;
  customer: string | null;
  at: number;
}

const DEVICE_TTL_MS = 60_000;
const MAX_CACHED_DEVICES = 50_000;
/** At most this many events are replayed on resume; older gaps answer `resync`. */
export const MAX_REPLAY = 1000;

export class LiveHub {
  private readonly clients = new Set<LiveClient>();
  private readonly devices = new Map<string, DeviceScope>();
  private subscriber: Redis | null = null;
  private starting: Promise<void> | null = null;
  /** Events are dispatched one after another, so clients see the channel's order. */
  private chain: Promise<void> = Promise.resolve();
  /** Delivered-event counter (for tests and metrics). */
  delivered = 0;

  constructor(
    private readonly redis: Redis,
    private readonly pg: Pool,
    private readonly channel: string,
    private readonly onError: (err: Error) => void,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Subscribes once (on the first client); later calls wait for the same subscription. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      const sub = this.redis.duplicate();
      sub.on('error', (err: Error) => this.onError(err));
      sub.on('message', (_channel: string, message: string) => {
        this.chain = this.chain.then(() => this.dispatch(message)).catch((err: Error) => this.onError(err));
      });
      await sub.subscribe(this.channel);
      this.subscriber = sub;
    })();
    return this.starting;
  }

  add(client: LiveClient): () => void {
    this.clients.add(client);
    return () => this.clients.delete(client);
  }

  /** Ends every client's stream (before the HTTP server waits for its connections). */
  endClients(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
  }

  async close(): Promise<void> {
    this.endClients();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private async dispatch(message: string): Promise<void> {
    if (this.clients.size === 0) return;
    let raw: Partial<LiveEvent>;
    try {
      raw = JSON.parse(message);
    } catch {
      return; // not ours to judge; the worker validates what it publishes
    }
    if (typeof raw.id !== 'string' || typeof raw.type !== 'string') return;
    const event: LiveEvent = {
      id: raw.id,
      type: raw.type,
      deviceId: typeof raw.deviceId === 'string' ? raw.deviceId : null,
      occurredAt: typeof raw.occurredAt === 'number' ? raw.occurredAt : Date.now(),
      payload: raw.payload ?? null,
    };
    const device = event.deviceId ? await this.device(event.deviceId) : null;
    for (const c of this.clients) {
      // Events of no device (or an unknown one) go only to callers who see the whole fleet.
      const visible = device ? inScope(c.scope, device) : c.scope === null;
      if (visible) {
        c.send(event);
        this.delivered += 1;
      }
    }
  }

  private async device(id: string): Promise<DeviceScope | null> {
    const hit = this.devices.get(id);
    if (hit && Date.now() - hit.at < DEVICE_TTL_MS) return hit;
    const res = await this.pg.query<{ region: string | null; customer: string | null }>(
      'SELECT region, customer FROM devices WHERE id = $1::uuid',
      [id],
    );
    const row = res.rows[0];
    if (!row) return null;
    if (this.devices.size >= MAX_CACHED_DEVICES) this.devices.clear();
    const entry = { region: row.region, customer: row.customer, at: Date.now() };
    this.devices.set(id, entry);
    return entry;
  }
}

/**
 * Events after `lastEventId` visible to `scope`, oldest first; null when the id is unknown
 * (too old or never stored) or more than MAX_REPLAY events were missed: the client must
 * reload the state instead.
 */
export async function replaySince(pg: Pool, scope: Scope | null, lastEventId: string): Promise<LiveEvent[] | null> {
  const p = new SqlParams();
  const idParam = p.add(lastEventId);
  const deviceOk = scope ? `d.id IS NOT NULL AND ${scopeCondition(scope, 'd', p)}` : 'TRUE';
  const res = await pg.query(
    `WITH last AS (SELECT created_at, id FROM domain_events WHERE id = ${idParam})
     SELECT e.id, e.type, e.device_id, e.occurred_at, e.payload
       FROM domain_events e CROSS JOIN last
       LEFT JOIN devices d ON d.id = e.device_id
      WHERE (e.created_at, e.id) > (last.created_at, last.id) AND ${deviceOk}
      ORDER BY e.created_at, e.id
      LIMIT ${MAX_REPLAY + 1}`,
    p.values,
  );
  if (res.rows.length === 0) {
    const known = await pg.query('SELECT 1 FROM domain_events WHERE id = $1', [lastEventId]);
    if (known.rows.length === 0) return null;
  }
  if (res.rows.length > MAX_REPLAY) return null;
  return res.rows.map((r) => ({
    id: r.id,
    type: r.type,
    deviceId: r.device_id,
    occurredAt: r.occurred_at.getTime(),
    payload: r.payload,
  }));
}
