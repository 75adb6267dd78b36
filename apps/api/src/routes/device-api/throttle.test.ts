/**
 * The HTTP device API's abuse limits: per-device request rate shared by API processes
 * (Redis), per-IP unknown-token throttle that spares cached devices and spares the
 * database, concurrent RPC long-polls per device — 429 with Retry-After.
 */

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { createTestApi, insertTokenDevice, type TestApi } from '../../test-support/test-api.js';

const LIMITS = { DEVICE_MSG_RATE: '1', DEVICE_MSG_BURST: '3', AUTH_FAILURES_PER_IP: '3', RPC_POLLS_PER_DEVICE: '1' };
let t: TestApi;
let second: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('device_api_throttle', LIMITS);
  // A second API process on the same database and Redis prefix.
  second = await buildApp(
    loadApiConfig({
      DATABASE_URL: t.db.url,
      REDIS_URL: t.redis.url,
      REDIS_PREFIX: t.redis.prefix,
      LOG_LEVEL: 'silent',
      ...LIMITS,
    }),
  );
});
afterAll(async () => {
  await second?.close();
  await t?.close();
});

const telemetry = (app: FastifyInstance, token: string, ip = '198.51.100.7') =>
  app.inject({
    method: 'POST',
    url: `/api/v1/${token}/telemetry`,
    payload: '{"V":230}',
    headers: { 'content-type': 'application/json' },
    remoteAddress: ip,
  });

describe('per-device rate', () => {
  it('answers 429 with Retry-After beyond the burst, counted across API processes', async () => {
    await insertTokenDevice(t.app, '0200_MSAN', 'RATE_TOKEN_0200');
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof telemetry>> | undefined;
    // Alternate processes; a token refills every second, so allow a few extra before 429.
    for (let i = 0; i < 20 && !limited; i++) {
      const res = await telemetry(i % 2 === 0 ? t.app : second, 'RATE_TOKEN_0200');
      statuses.push(res.statusCode);
      if (res.statusCode === 429) limited = res;
    }
    expect(limited?.statusCode).toBe(429);
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    // Another device is not affected.
    await insertTokenDevice(t.app, '0201_MSAN', 'RATE_TOKEN_0201');
    expect((await telemetry(second, 'RATE_TOKEN_0201')).statusCode).toBe(200);
  });
});

describe('unknown tokens per source IP', () => {
  it('throttles guesses without querying PostgreSQL, while cached devices behind the same NAT keep working', async () => {
    const ip = '203.0.113.50';
    await insertTokenDevice(t.app, '0202_MSAN', 'NAT_TOKEN_0202');
    expect((await telemetry(t.app, 'NAT_TOKEN_0202', ip)).statusCode).toBe(200);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await telemetry(t.app, `GUESS_${i}_xyz`, ip)).statusCode);
    expect(codes.slice(0, 3)).toEqual([401, 401, 401]);
    expect(codes.slice(3)).toEqual([429, 429, 429]);
    const res = await telemetry(t.app, 'GUESS_more_xyz', ip);
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // No look-up happens: a valid token not yet in the cache is not even checked.
    await insertTokenDevice(t.app, '0204_MSAN', 'NAT_TOKEN_0204');
    expect((await telemetry(t.app, 'NAT_TOKEN_0204', ip)).statusCode).toBe(429);
    // The other process shares the count; the honest device keeps being accepted.
    expect((await telemetry(second, 'GUESS_other_xyz', ip)).statusCode).toBe(429);
    expect((await telemetry(t.app, 'NAT_TOKEN_0202', ip)).statusCode).toBe(200);
    // Another address is not affected.
    expect((await telemetry(t.app, 'GUESS_elsewhere', '192.0.2.1')).statusCode).toBe(401);
  });
});

describe('RPC long-polls', () => {
  it('at most RPC_POLLS_PER_DEVICE at a time per device', async () => {
    const polls = await createTestApi('device_api_rpc_polls', { RPC_POLLS_PER_DEVICE: '1' });
    try {
      await insertTokenDevice(polls.app, '0203_MSAN', 'POLL_TOKEN_0203');
      const poll = (ms: number) =>
        polls.app.inject({ method: 'GET', url: `/api/v1/POLL_TOKEN_0203/rpc?timeout=${ms}` });
      // Two polls that overlap (each waits 3 s): one waits, the other is refused.
      const both = await Promise.all([poll(3000), poll(3000)]);
      expect(both.map((r) => r.statusCode).sort()).toEqual([408, 429]);
      const refused = both.find((r) => r.statusCode === 429);
      expect(refused?.headers['retry-after']).toBe('1');
      expect(refused?.json().message).toMatch(/RPC polls per device/);
      // Once it is over, the device polls again.
      expect((await poll(1)).statusCode).toBe(408);
    } finally {
      await polls.close();
    }
  });
});
