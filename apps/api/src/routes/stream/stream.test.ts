import { request } from 'node:http';
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { type ApiConfig, loadApiConfig } from '../../config.js';
import type { LiveHub } from '../../services/live.js';
import { N1, S1, seedKnownHistory } from '../status/seed.test-data.js';
import { buildReadSideTestApp } from '../status/testing.js';

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

interface Sse {
  events: { id?: string; event?: string; data?: string }[];
  comments: string[];
  status: number;
  close(): void;
  waitFor(pred: (s: Sse) => boolean, ms?: number): Promise<void>;
}

/** A minimal EventSource over real HTTP: parses frames as they arrive. */
function connect(url: string, headers: Record<string, string> = {}): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const s: Sse = {
        events: [],
        comments: [],
        status: res.statusCode ?? 0,
        close: () => req.destroy(),
        waitFor: (pred, ms = 1000) =>
          new Promise((ok, fail) => {
            const started = Date.now();
            const tick = () => {
              if (pred(s)) return ok();
              if (Date.now() - started > ms) return fail(new Error(`timed out; got ${JSON.stringify(s.events)}`));
              setTimeout(tick, 10);
            };
            tick();
          }),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const e: Sse['events'][number] = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) s.comments.push(line.slice(1).trim());
            else {
              const [k, ...v] = line.split(': ');
              if (k === 'id' || k === 'event' || k === 'data') e[k] = v.join(': ');
            }
          }
          if (e.event) s.events.push(e);
          i = buf.indexOf('\n\n');
        }
      });
      res.on('error', () => {});
      resolve(s);
    });
    req.on('error', reject);
    req.end();
  });
}

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
  app = await buildReadSideTestApp(config, { heartbeatMs: 100, onHub: (h) => (hub = h) });
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

const event = (id: string, deviceId: string, type = 'outage.opened') =>
  JSON.stringify({ id, type, deviceId, occurredAt: Date.parse('2026-01-10T06:30:00Z'), payload: { line: 4 } });

describe('GET /api/stream', () => {
  it('delivers published events within a second, filtered by scope, with heartbeats', async () => {
    const all = await connect(`${base}/api/stream`);
    const north = await connect(`${base}/api/stream`, { 'x-test-scope': NORTH });
    expect(all.status).toBe(200);
    await pub.publish(`${redis.prefix}:events`, event('e-s1', S1));
    await pub.publish(`${redis.prefix}:events`, event('e-n1', N1));
    await all.waitFor((s) => s.events.length === 2);
    await north.waitFor((s) => s.events.length === 1);
    expect(north.events[0]).toMatchObject({ id: 'e-n1', event: 'outage.opened' });
    expect(JSON.parse(north.events[0]?.data ?? '{}')).toMatchObject({
      deviceId: N1,
      occurredAt: '2026-01-10T06:30:00.000Z',
    });
    expect(all.events.map((e) => e.id)).toEqual(['e-s1', 'e-n1']);
    await north.waitFor((s) => s.comments.includes('ping'));
    all.close();
    north.close();
  });

  it('resumes after Last-Event-ID from the outbox, in scope, and asks for a resync when it cannot', async () => {
    await pool.query(
      `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, created_at) VALUES
        ('r1', 'outage.opened', $1, now(), '{}', now() - interval '3 seconds'),
        ('r2', 'device.offline', $2, now(), '{}', now() - interval '2 seconds'),
        ('r3', 'outage.closed', $1, now(), '{"line":1}', now() - interval '1 second')`,
      [N1, S1],
    );
    const all = await connect(`${base}/api/stream`, { 'last-event-id': 'r1' });
    const north = await connect(`${base}/api/stream?lastEventId=r1`, { 'x-test-scope': NORTH });
    await all.waitFor((s) => s.events.length === 2);
    await north.waitFor((s) => s.events.length === 1);
    expect(all.events.map((e) => e.id)).toEqual(['r2', 'r3']);
    expect(north.events.map((e) => e.id)).toEqual(['r3']);
    // Live events keep flowing after the replay.
    await pub.publish(`${redis.prefix}:events`, event('r4', N1, 'outage.closed'));
    await north.waitFor((s) => s.events.length === 2);
    const lost = await connect(`${base}/api/stream`, { 'last-event-id': 'no-such-event' });
    await lost.waitFor((s) => s.events.some((e) => e.event === 'resync'));
    for (const c of [all, north, lost]) c.close();
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
    await pub.publish(`${redis.prefix}:events`, event('t1', S1));
    await ok.waitFor((s) => s.events.some((e) => e.id === 't1'));
    ok.close();
  });
});
