/**
 * Open streams follow access changes: logout, key revocation and user disable end them
 * (at once through the access-change notice, and within SSE_RECHECK_MS without it); a scope
 * change narrows what they deliver; streams per user/key are capped (429).
 */
import { domainEventsChannel } from '@spms/contracts';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { N1, S1, seedKnownHistory } from '../../test-support/known-history.js';
import { connect, type Sse } from '../../test-support/sse-client.js';
import { adminAuth, createKey, createUser, signIn, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
let pub: Redis;
/** Re-checks only on notices (a minute apart otherwise): shows the notice path. */
let app: FastifyInstance;
/** Re-checks every 300 ms: shows revocation without any notice. */
let polling: FastifyInstance;
let base: string;
let pollingBase: string;

beforeAll(async () => {
  db = await createTestDatabase('stream-access');
  redis = createTestRedis('stream-access');
  pub = new Redis(redis.url);
  app = await buildApp(loadApiConfig(testEnv(db, redis, { SSE_RECHECK_MS: '60000', SSE_MAX_STREAMS: '2' })));
  polling = await buildApp(loadApiConfig(testEnv(db, redis, { SSE_RECHECK_MS: '300' })));
  await seedKnownHistory(app.pg);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  pollingBase = await polling.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await polling?.close();
  pub?.disconnect();
  await redis?.cleanup();
  await db?.drop();
});

const open = (url: string, token: string) => connect(`${url}/api/stream?access_token=${encodeURIComponent(token)}`);
const revokedAndEnded = (s: Sse) => s.ended && s.events.some((e) => e.event === 'revoked');

/** Stores and publishes an event for `deviceId` as the worker does. */
async function emit(id: string, deviceId: string): Promise<void> {
  const res = await app.pg.query<{ message: string }>(
    `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
     VALUES ($1, 'outage.opened', $2, now(), '{}', nextval('domain_events_seq'))
     RETURNING json_build_object('id', id, 'type', type, 'deviceId', device_id, 'occurredAt', 0, 'payload', payload,
                                 'seq', seq)::text AS message`,
    [id, deviceId],
  );
  await pub.publish(domainEventsChannel(redis.prefix), res.rows[0]?.message as string);
}

const ids = (s: Sse) => s.events.filter((e) => e.event === 'outage.opened').map((e) => JSON.parse(e.data ?? '{}').id);

describe('GET /api/stream and access changes', () => {
  it('logout ends the session stream', async () => {
    const u = await createUser(app, { username: 'leaver', role: 'viewer' });
    const token = await signIn(app, 'leaver', u.password);
    const s = await open(base, token);
    expect(s.status).toBe(200);
    const out = await app.inject({
      method: 'POST',
      url: '/api/auth/logout',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(out.statusCode).toBe(200);
    await s.waitFor(revokedAndEnded);
  });

  it('revoking an API key ends its stream', async () => {
    const key = await createKey(app, { name: 'streamer', role: 'viewer' });
    const s = await open(base, key.key);
    expect(s.status).toBe(200);
    const res = await app.inject({ method: 'DELETE', url: `/api/api-keys/${key.id}`, headers: adminAuth });
    expect(res.statusCode).toBe(200);
    await s.waitFor(revokedAndEnded);
  });

  it('disabling a user ends the streams of their sessions and keys', async () => {
    const u = await createUser(app, { username: 'disabled-soon', role: 'viewer' });
    const session = await open(base, await signIn(app, 'disabled-soon', u.password));
    const key = await createKey(app, { name: 'owned', role: 'viewer', userId: u.id });
    const keyStream = await open(base, key.key);
    expect([session.status, keyStream.status]).toEqual([200, 200]);
    const res = await app.inject({
      method: 'PATCH',
      url: `/api/users/${u.id}`,
      headers: adminAuth,
      payload: { disabled: true },
    });
    expect(res.statusCode).toBe(200);
    await session.waitFor(revokedAndEnded);
    await keyStream.waitFor(revokedAndEnded);
  });

  it('a scope change narrows what an open stream delivers', async () => {
    const u = await createUser(app, { username: 'narrowed', role: 'viewer' });
    const s = await open(base, await signIn(app, 'narrowed', u.password));
    await emit('wide-s', S1);
    await s.waitFor((x) => ids(x).includes('wide-s'));
    const res = await app.inject({
      method: 'PATCH',
      url: `/api/users/${u.id}`,
      headers: adminAuth,
      payload: { regions: ['North'] },
    });
    expect(res.statusCode).toBe(200);
    // The re-check runs on the notice, concurrently with event delivery: send South + North
    // pairs until a North arrives without its South (narrowed), then no South gets through.
    let narrowed = false;
    for (let i = 0; i < 50 && !narrowed; i++) {
      await emit(`pair-s${i}`, S1);
      await emit(`pair-n${i}`, N1);
      await s.waitFor((x) => ids(x).includes(`pair-n${i}`));
      narrowed = !ids(s).includes(`pair-s${i}`);
    }
    expect(narrowed).toBe(true);
    await emit('after-s', S1);
    await emit('after-n', N1);
    await s.waitFor((x) => ids(x).includes('after-n'));
    expect(ids(s)).not.toContain('after-s');
    expect(s.ended).toBe(false);
    s.close();
  });

  it('re-checks on its own: a key revoked without any notice ends its stream within SSE_RECHECK_MS', async () => {
    const key = await createKey(app, { name: 'silent-revoke', role: 'viewer' });
    const s = await open(pollingBase, key.key);
    expect(s.status).toBe(200);
    await app.pg.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    await s.waitFor(revokedAndEnded);
  });

  it('caps open streams per user or key with 429, and frees the slot when one closes', async () => {
    const key = await createKey(app, { name: 'many-tabs', role: 'viewer' });
    const a = await open(base, key.key);
    const b = await open(base, key.key);
    const c = await open(base, key.key);
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    c.close();
    a.close();
    // The slot frees once the server sees the socket close.
    let d: Sse | undefined;
    const started = Date.now();
    while (Date.now() - started < 5000) {
      d = await open(base, key.key);
      if (d.status === 200) break;
      d.close();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(d?.status).toBe(200);
    b.close();
    d?.close();
  });
});
