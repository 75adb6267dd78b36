import { domainEventsChannel } from '@spms/contracts';
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { type ApiConfig, loadApiConfig } from '../../config.js';
import { N1, S1, seedKnownHistory } from '../../test-support/known-history.js';
import { buildReadSideTestApp } from '../../test-support/read-side-app.js';
import { connect, type Sse } from '../../test-support/sse-client.js';
import type { LiveHub } from './live.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let pub: Redis;
let app: FastifyInstance;
let real: FastifyInstance;
let base: string;
let hub: LiveHub | undefined;
let realBase: string;
const ADMIN = 'stream-admin-key-0123456789abc';
const NORTH = JSON.stringify({ regions: ['North'], customers: null });

beforeAll(async () => {
  db = await createTestDatabase('stream');
  redis = createTestRedis('stream');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  pub = new Redis(redis.url);
  const config: ApiConfig = loadApiConfig({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    SPMS_ADMIN_API_KEY: ADMIN,
  });
  app = await buildReadSideTestApp(config, { heartbeatMs: 100, pollMs: 300, onHub: (h) => (hub = h) });
  real = await buildApp(config);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  realBase = await real.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await real?.close();
  pub?.disconnect();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

const OCCURRED = Date.parse('2026-01-10T06:30:00Z');

/** Stores an event as the worker's outbox does (next seq), without publishing it. */
async function store(id: string, deviceId: string, type = 'outage.opened'): Promise<string> {
  const res = await pool.query<{ message: string }>(
    `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
     VALUES ($1, $2, $3, to_timestamp($4 / 1000.0), '{"line":4}', nextval('domain_events_seq'))
     RETURNING json_build_object('id', id, 'type', type, 'deviceId', device_id, 'occurredAt', $4::float8,
                                 'payload', payload, 'seq', seq)::text AS message`,
    [id, type, deviceId, OCCURRED],
  );
  return res.rows[0]?.message as string;
}

/** Stores and publishes an event (the worker's path); returns its message. */
async function emit(id: string, deviceId: string, type = 'outage.opened'): Promise<string> {
  const message = await store(id, deviceId, type);
  await pub.publish(domainEventsChannel(redis.prefix), message);
  return message;
}

const seqOf = (message: string) => String(JSON.parse(message).seq);
const dataIds = (s: Sse) => s.events.filter((e) => e.data?.includes('"seq"')).map((e) => JSON.parse(e.data ?? '{}').id);

describe('GET /api/stream', () => {
  it('delivers published events, filtered by scope, with heartbeats', async () => {
    const all = await connect(`${base}/api/stream`);
    const north = await connect(`${base}/api/stream`, { 'x-test-scope': NORTH });
    expect(all.status).toBe(200);
    await emit('e-s1', S1);
    const n1 = await emit('e-n1', N1);
    await all.waitFor((s) => s.events.length === 2);
    await north.waitFor((s) => s.events.length === 1);
    expect(north.events[0]).toMatchObject({ id: seqOf(n1), event: 'outage.opened' });
    expect(JSON.parse(north.events[0]?.data ?? '{}')).toMatchObject({
      deviceId: N1,
      occurredAt: '2026-01-10T06:30:00.000Z',
    });
    expect(dataIds(all)).toEqual(['e-s1', 'e-n1']);
    await north.waitFor((s) => s.comments.includes('ping'));
    all.close();
    north.close();
  });

  it('resumes after Last-Event-ID from the outbox, in scope, and asks for a resync when it cannot', async () => {
    const r1 = await store('r1', N1);
    await store('r2', S1, 'device.offline');
    await store('r3', N1, 'outage.closed');
    const all = await connect(`${base}/api/stream`, { 'last-event-id': seqOf(r1) });
    const north = await connect(`${base}/api/stream?lastEventId=${seqOf(r1)}`, { 'x-test-scope': NORTH });
    await all.waitFor((s) => s.events.length === 2);
    await north.waitFor((s) => s.events.length === 1);
    expect(dataIds(all)).toEqual(['r2', 'r3']);
    expect(dataIds(north)).toEqual(['r3']);
    // Live events keep flowing after the replay.
    await emit('r4', N1, 'outage.closed');
    await north.waitFor((s) => s.events.length === 2);
    for (const bad of ['no-such-event', '999999999']) {
      const lost = await connect(`${base}/api/stream`, { 'last-event-id': bad });
      await lost.waitFor((s) => s.events.some((e) => e.event === 'resync'));
      lost.close();
    }
    for (const c of [all, north]) c.close();
  });

  it('delivers in seq order without gaps when pub/sub reorders or loses messages', async () => {
    const c = await connect(`${base}/api/stream`);
    await c.waitFor(() => (hub?.size ?? 0) >= 1);
    const a = await store('g-a', S1);
    const b = await emit('g-b', S1); // a's message comes late: the gap is read from the database
    await c.waitFor((s) => s.events.length === 2);
    await pub.publish(domainEventsChannel(redis.prefix), a);
    await store('g-c', N1); // never published: the poll finds it
    await c.waitFor((s) => s.events.length === 3, 3000);
    await emit('g-d', N1);
    await c.waitFor((s) => s.events.length === 4);
    expect(dataIds(c)).toEqual(['g-a', 'g-b', 'g-c', 'g-d']);
    const seqs = c.events.map((e) => Number(e.id));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(seqs[1]).toBe(Number(seqOf(b)));
    c.close();
  });

  it('a client resuming with Last-Event-ID after missing events gets every one exactly once, in order', async () => {
    const first = await connect(`${base}/api/stream`);
    await first.waitFor(() => (hub?.size ?? 0) >= 1);
    await emit('m-1', S1);
    await first.waitFor((s) => s.events.length === 1);
    const last = first.events[0]?.id as string;
    first.close();
    // Missed while away: some published, some whose message was lost.
    await emit('m-2', S1);
    await store('m-3', N1);
    await emit('m-4', N1);
    const again = await connect(`${base}/api/stream`, { 'last-event-id': last });
    // More events while the replay runs and after it.
    await Promise.all([emit('m-5', S1), emit('m-6', N1)]);
    await again.waitFor((s) => dataIds(s).includes('m-6'), 3000);
    await emit('m-7', S1);
    await again.waitFor((s) => dataIds(s).includes('m-7'));
    expect(dataIds(again)).toEqual(['m-2', 'm-3', 'm-4', 'm-5', 'm-6', 'm-7']);
    again.close();
  });

  it('forgets a client as soon as it disconnects', async () => {
    expect(hub).toBeDefined();
    const c = await connect(`${base}/api/stream`);
    // Earlier tests' clients are gone once their sockets close; this one stays.
    await c.waitFor(() => hub?.size === 1);
    c.close();
    await c.waitFor(() => hub?.size === 0);
  });

  it('accepts ?access_token= on the real app and refuses a wrong one', async () => {
    const bad = await connect(`${realBase}/api/stream?access_token=wrong-key-wrong-key`);
    expect(bad.status).toBe(401);
    bad.close();
    const ok = await connect(`${realBase}/api/stream?access_token=${ADMIN}`);
    expect(ok.status).toBe(200);
    await emit('t1', S1);
    await ok.waitFor((s) => dataIds(s).includes('t1'));
    ok.close();
  });
});
