/**
 * The persistent RPC sweeper against real PostgreSQL and Redis: three sweepers sweeping the
 * same rows at once change each row once (FOR UPDATE SKIP LOCKED, re-checked in the UPDATE),
 * expiry wins over a pending attempt, a retry puts a copy back into the device's command
 * list, and the marker of devices with waiting RPCs is rebuilt from the database.
 */
import { randomUUID } from 'node:crypto';
import { createPool, type Pool } from '@spms/db';
import { createLogger } from '@spms/log';
import { deviceCommandsKey, rpcPendingDevicesKey } from '@spms/queue';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRpcSweeper } from './sweeper.js';

const PROFILE = '00000000-0000-4000-8000-000000000001';
let db: TestDatabase;
let redisT: TestRedis;
let pool: Pool;
let redis: Redis;

beforeAll(async () => {
  db = await createTestDatabase('rpc_sweeper');
  redisT = createTestRedis('rpc_sweeper');
  pool = createPool(db.url);
  redis = new Redis(redisT.url);
});

afterAll(async () => {
  redis?.disconnect();
  await pool?.end();
  await redisT?.cleanup();
  await db?.drop();
});

async function device(): Promise<string> {
  const id = randomUUID();
  await pool.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
    id,
    `sw-${id.slice(0, 8)}`,
    PROFILE,
  ]);
  return id;
}

/** n RPCs of `deviceId` in the given state; `sentAgoMs`/`expiresInMs` relative to now. */
async function rows(
  deviceId: string,
  n: number,
  s: { status: string; attempts: number; retries: number; sentAgoMs?: number; expiresInMs: number },
) {
  await pool.query(
    `INSERT INTO device_rpc (device_id, method, status, attempts, retries, timeout_ms, sent_at, expiration_time)
     SELECT $1, 'm', $2, $3, $4, 100, now() - $5 * interval '1 millisecond', now() + $6 * interval '1 millisecond'
       FROM generate_series(1, $7)`,
    [deviceId, s.status, s.attempts, s.retries, s.sentAgoMs ?? null, s.expiresInMs, n],
  );
}

function sweepers(k: number) {
  const counts = new Map<string, number>();
  const log = createLogger({ name: 'sweeper-test', level: 'silent', pretty: false });
  const list = Array.from({ length: k }, () =>
    startRpcSweeper({
      pool,
      redis,
      prefix: redisT.prefix,
      wakeup: false,
      intervalMs: 0,
      log,
      count: (r, n) => counts.set(r, (counts.get(r) ?? 0) + n),
    }),
  );
  return { list, counts };
}

describe('RPC sweeper', () => {
  it('changes each row once when several sweep at the same time', async () => {
    const dev = await device();
    await rows(dev, 300, { status: 'QUEUED', attempts: 0, retries: 0, expiresInMs: -1000 });
    await rows(dev, 200, { status: 'DELIVERED', attempts: 1, retries: 0, sentAgoMs: 5000, expiresInMs: 60_000 });
    await rows(dev, 100, { status: 'SENT', attempts: 1, retries: 0, sentAgoMs: 5000, expiresInMs: 60_000 });
    // Sent long ago and past its expiry as well: EXPIRED, not timed out.
    await rows(dev, 50, { status: 'SENT', attempts: 1, retries: 3, sentAgoMs: 5000, expiresInMs: -1 });
    const { list, counts } = sweepers(3);
    await Promise.all(list.map((s) => s.sweep()));
    await Promise.all(list.map((s) => s.sweep()));
    await Promise.all(list.map((s) => s.close()));
    expect(Object.fromEntries(counts)).toEqual({ expired: 350, timeout: 200, failed: 100 });
    const { rows: by } = await pool.query(
      `SELECT status, count(*)::int AS n, bool_and(completed_at IS NOT NULL) AS done FROM device_rpc WHERE device_id = $1 GROUP BY status ORDER BY status`,
      [dev],
    );
    expect(by).toEqual([
      { status: 'EXPIRED', n: 350, done: true },
      { status: 'FAILED', n: 100, done: true },
      { status: 'TIMEOUT', n: 200, done: true },
    ]);
  });

  it('queues a retry with a copy in the list, and rebuilds the marker from the database', async () => {
    const dev = await device();
    const idle = await device();
    await rows(dev, 2, { status: 'DELIVERED', attempts: 1, retries: 1, sentAgoMs: 5000, expiresInMs: 60_000 });
    await redis.sadd(rpcPendingDevicesKey(redisT.prefix), idle); // stale: nothing waits for it
    // The rebuild lease of the sweeps above (one rebuild per 5 s across processes) is over.
    await redis.del(`${rpcPendingDevicesKey(redisT.prefix)}:rebuild`);
    const { list, counts } = sweepers(1);
    await list[0]?.sweep();
    await list[0]?.close();
    expect(counts.get('retried')).toBe(2);
    const { rows: after } = await pool.query(
      `SELECT status, attempts, completed_at FROM device_rpc WHERE device_id = $1`,
      [dev],
    );
    expect(after).toEqual([
      { status: 'QUEUED', attempts: 1, completed_at: null },
      { status: 'QUEUED', attempts: 1, completed_at: null },
    ]);
    const copies = (await redis.lrange(deviceCommandsKey(redisT.prefix, dev), 0, -1)).map((r) => JSON.parse(r));
    expect(copies).toHaveLength(2);
    expect(copies.every((c) => c.kind === 'rpc' && typeof c.rpcId === 'string')).toBe(true);
    expect(await redis.smembers(rpcPendingDevicesKey(redisT.prefix))).toEqual([dev]);
  });
});
