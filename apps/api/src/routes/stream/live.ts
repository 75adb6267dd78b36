/**
 * Live domain events for Server-Sent Events clients, in commit order without gaps.
 *
 * One Redis subscriber per API process listens on the worker's `${REDIS_PREFIX}:events`
 * channel. Every event carries its commit-ordered `seq` (live-events.ts). The hub keeps the
 * last seq it delivered and fans events out in seq order to the clients whose scope covers
 * the event's device:
 * - the next seq is delivered as it arrives;
 * - a seq already delivered (a repeat, or one read from the database meanwhile) is dropped;
 * - a seq beyond the next one means pub/sub reordered or lost messages: the missing range is
 *   read from the database first (complete: once seq N is visible all below it are committed);
 * - every `pollMs` the hub also reads what is after its seq, so an event whose message was
 *   lost at the tail (nothing published after it, or Redis down) arrives all the same.
 * A gap larger than MAX_REPLAY is not sent event by event: clients get `resync`.
 *
 * Access: the hub also listens on `${REDIS_PREFIX}:access` (published on logout, key
 * revocation, user changes) and asks every client to re-check its principal then, and every
 * `recheckMs` in any case (the notice is best effort). It counts streams per principal so
 * the route can cap them.
 */
import { accessChannel } from '@spms/contracts';
import type { Pool } from '@spms/db';
import type { Redis } from 'ioredis';
import type { Scope } from '../../core/principal.js';
import { inScope } from '../../core/scope.js';
import { type LiveEvent, readEventsAfter, readSeqRange } from './live-events.js';

export { type LiveEvent, readEventsAfter } from './live-events.js';

export interface LiveClient {
  /** Who the stream belongs to (stream caps). */
  principalKey: string;
  /** What it may see; the route narrows it when a re-check finds the principal changed. */
  scope: Scope | null;
  send(e: LiveEvent): void;
  /** Too much was missed to send event by event: the client must reload the state; it
   *  resumes after `seq`. */
  resync(reason: string, seq: number): void;
  /** Re-checks the principal (revoked → the stream ends; scope changed → narrowed). */
  recheck(): void;
  /** Ends the response (server shutdown). */
  end(): void;
}

export interface LiveHubOptions {
  /** Redis channel of the worker's events. */
  channel: string;
  /** Redis channel of access changes (any message: re-check every stream). */
  accessChannel: string;
  pollMs: number;
  recheckMs: number;
  onError: (err: Error) => void;
}

interface DeviceScope {
  region: string | null;
  customer: string | null;
  at: number;
}

const DEVICE_TTL_MS = 60_000;
const MAX_CACHED_DEVICES = 50_000;
/** At most this many missed events are sent one by one (resume or gap); beyond, `resync`. */
export const MAX_REPLAY = 1000;

/** Tells every API process to re-check its open streams now (best effort: they also poll). */
export async function notifyAccessChange(redis: Redis, prefix: string, what: string): Promise<void> {
  await redis.publish(accessChannel(prefix), what).catch(() => {});
}

export class LiveHub {
  private readonly clients = new Set<LiveClient>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly devices = new Map<string, DeviceScope>();
  private subscriber: Redis | null = null;
  private starting: Promise<void> | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** Largest seq delivered (or skipped as before the first client); null until read. */
  private lastSeq: number | null = null;
  /** Events are handled one after another, so clients see seq order. */
  private chain: Promise<void> = Promise.resolve();
  /** Delivered-event counter (for tests and metrics). */
  delivered = 0;

  constructor(
    private readonly redis: Redis,
    private readonly pg: Pool,
    private readonly opts: LiveHubOptions,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Open streams of one principal (in this process). */
  count(principalKey: string): number {
    return this.perPrincipal.get(principalKey) ?? 0;
  }

  /** Subscribes once (on the first client); later calls wait for the same subscription. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      const sub = this.redis.duplicate();
      sub.on('error', (err: Error) => this.opts.onError(err));
      sub.on('message', (channel: string, message: string) => {
        if (channel === this.opts.accessChannel) this.recheckAll();
        else this.enqueue(() => this.handle(message));
      });
      await sub.subscribe(this.opts.channel, this.opts.accessChannel);
      this.subscriber = sub;
      // Subscribed first: whatever commits from now on is either after the cursor read
      // below or is read from the database by a later catch-up. Awaited: a stream opened
      // once start() resolved must not have events committed after it taken for "before the
      // cursor" (on a busy machine the read could otherwise run after them and skip them).
      await new Promise<void>((resolve) =>
        this.enqueue(async () => {
          try {
            await this.ensureCursor();
          } finally {
            resolve();
          }
        }),
      );
      const poll = setInterval(() => this.enqueue(() => this.poll()), this.opts.pollMs);
      const recheck = setInterval(() => this.recheckAll(), this.opts.recheckMs);
      poll.unref();
      recheck.unref();
      this.timers = [poll, recheck];
    })();
    return this.starting;
  }

  add(client: LiveClient): () => void {
    this.clients.add(client);
    this.perPrincipal.set(client.principalKey, this.count(client.principalKey) + 1);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.clients.delete(client);
      const n = this.count(client.principalKey) - 1;
      if (n > 0) this.perPrincipal.set(client.principalKey, n);
      else this.perPrincipal.delete(client.principalKey);
    };
  }

  /** Ends every client's stream (before the HTTP server waits for its connections). */
  endClients(): void {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.perPrincipal.clear();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.endClients();
    this.subscriber?.disconnect();
    this.subscriber = null;
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: Error) => this.opts.onError(err));
  }

  private recheckAll(): void {
    for (const c of this.clients) c.recheck();
  }

  private async ensureCursor(): Promise<number> {
    this.lastSeq ??= (await readSeqRange(this.pg)).max;
    return this.lastSeq;
  }

  private async handle(message: string): Promise<void> {
    let raw: Partial<LiveEvent>;
    try {
      raw = JSON.parse(message);
    } catch {
      return; // not ours to judge; the worker validates what it publishes
    }
    if (typeof raw.seq !== 'number' || !Number.isSafeInteger(raw.seq) || typeof raw.id !== 'string') return;
    if (typeof raw.type !== 'string') return;
    const last = await this.ensureCursor();
    if (raw.seq <= last) return; // a repeat, or already read from the database
    if (this.clients.size === 0) {
      this.lastSeq = raw.seq; // nobody to send to: move on (a resume reads the database)
      return;
    }
    if (raw.seq !== last + 1) return this.catchUp(raw.seq);
    this.lastSeq = raw.seq;
    await this.deliver({
      seq: raw.seq,
      id: raw.id,
      type: raw.type,
      deviceId: typeof raw.deviceId === 'string' ? raw.deviceId : null,
      occurredAt: typeof raw.occurredAt === 'number' ? raw.occurredAt : Date.now(),
      payload: raw.payload ?? null,
    });
  }

  /** Reads what follows the cursor (up to `upTo`, inclusive) from the database and sends it. */
  private async catchUp(upTo?: number): Promise<void> {
    const from = await this.ensureCursor();
    const events = await readEventsAfter(this.pg, from, null, MAX_REPLAY + 1, upTo);
    if (events.length > MAX_REPLAY) {
      const { max } = await readSeqRange(this.pg);
      this.lastSeq = Math.max(max, upTo ?? 0);
      for (const c of this.clients) c.resync(`more than ${MAX_REPLAY} events missed; reload the state`, this.lastSeq);
      return;
    }
    for (const e of events) {
      this.lastSeq = e.seq;
      await this.deliver(e);
    }
    // Numbers below a visible seq that are not stored are holes (rolled back), not pending.
    if (upTo !== undefined && upTo > (this.lastSeq ?? 0)) this.lastSeq = upTo;
  }

  private async poll(): Promise<void> {
    if (this.clients.size > 0) return this.catchUp();
    this.lastSeq = Math.max(this.lastSeq ?? 0, (await readSeqRange(this.pg)).max);
  }

  private async deliver(event: LiveEvent): Promise<void> {
    if (this.clients.size === 0) return;
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
