import {
  type DeviceCommand,
  deviceCommandChannel,
  deviceCommandsKey,
  gatewayAliveKey,
  sessionOwnersKey,
} from '@spms/queue';
import { freePort, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, insertTokenDevice, type TestApi } from '../../test-support/test-api.js';

const ADMIN = 'admin-key-for-tests-0123456789';
const TOKEN = 'CMD_DEVICE_TOKEN_01';
let t: TestApi;
let redis: TestRedis;
let app: FastifyInstance;
let sub: Redis;
/** Reads what is queued, as a broker would. */
let r: Redis;
let deviceId: string;
/** Wake-ups on the command channel (device ids). */
const wakeups: string[] = [];

beforeAll(async () => {
  t = await createTestApi('device_cmd', { SPMS_ADMIN_API_KEY: ADMIN });
  ({ app, redis } = t);
  deviceId = await insertTokenDevice(app, '0200_MSAN', TOKEN);
  sub = new Redis(redis.url);
  r = new Redis(redis.url);
  await sub.subscribe(deviceCommandChannel(redis.prefix));
  sub.on('message', (_c: string, id: string) => wakeups.push(id));
});

afterAll(async () => {
  sub?.disconnect();
  r?.disconnect();
  await t?.close();
});

const auth = { authorization: `Bearer ${ADMIN}` };
const operator = (url: string, payload: object) => app.inject({ method: 'POST', url, payload, headers: auth });
const device = (method: 'GET' | 'POST', url: string, payload?: string) =>
  app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload, headers: { 'content-type': 'application/json' } }),
  });
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

/** What waits in the device's command list (the brokers take from it). */
const queued = async (): Promise<DeviceCommand[]> =>
  (await r.lrange(deviceCommandsKey(redis.prefix, deviceId), 0, -1)).map((r) => JSON.parse(r));

describe('shared attributes pushed by an operator', () => {
  it('are not queued for a device without a live MQTT session (it reads them when it connects)', async () => {
    const set = await operator('/api/devices/0200_MSAN/attributes', { shared: { mode: 'eco' } });
    expect(set.json()).toMatchObject({ updated: ['mode'], delivered: 0 });
    expect(await queued()).toEqual([]);
    await operator('/api/devices/0200_MSAN/attributes', { deleted: ['mode'] });
  });

  it('stores them, queues the change in ThingsBoard format for the live session, and serves them', async () => {
    // The record a broker writes when it holds the device's session (apps/broker session-claims.ts).
    await r.hset(sessionOwnersKey(redis.prefix), deviceId, 'gw-test 1');
    await r.set(gatewayAliveKey(redis.prefix, 'gw-test'), '1', 'PX', 60_000);
    const inbox = `${redis.prefix}:broker:gw:gw-test:inbox`;
    expect(
      (await app.inject({ method: 'POST', url: '/api/devices/0200_MSAN/attributes', payload: {} })).statusCode,
    ).toBe(401);
    expect((await operator('/api/devices/NOPE_MSAN/attributes', { shared: { a: 1 } })).statusCode).toBe(404);
    const set = await operator('/api/devices/0200_MSAN/attributes', { shared: { interval: 60, mode: 'eco' } });
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ deviceId, updated: ['interval', 'mode'], deleted: [], delivered: 1 });
    await until(() => wakeups.length > 0);
    expect(wakeups.at(-1)).toBe(deviceId);
    expect(await r.smembers(inbox)).toEqual([`c:${deviceId}`]);
    expect(await queued()).toMatchObject([{ kind: 'attributes', deviceId, payload: { interval: 60, mode: 'eco' } }]);
    expect((await device('GET', `/api/v1/${TOKEN}/attributes?sharedKeys=interval`)).json()).toEqual({
      shared: { interval: 60 },
    });

    const del = await operator(`/api/devices/${deviceId}/attributes`, { deleted: ['interval'] });
    expect(del.json()).toMatchObject({ updated: [], deleted: ['interval'] });
    expect((await queued()).at(-1)).toMatchObject({ kind: 'attributes', deviceId, payload: { deleted: ['interval'] } });
    await r.del(deviceCommandsKey(redis.prefix, deviceId));
    await r.hdel(sessionOwnersKey(redis.prefix), deviceId);
    const all = await app.inject({ url: '/api/devices/0200_MSAN/attributes', headers: auth });
    expect(all.json()).toEqual({ client: {}, shared: { mode: 'eco' }, server: {} });
    expect((await operator('/api/devices/0200_MSAN/attributes', {})).statusCode).toBe(400);
  });
});

describe('firmware attributes', () => {
  it('are refused (400, use firmware assignment): neither set nor deleted, nothing stored or queued', async () => {
    const before = (await app.inject({ url: '/api/devices/0200_MSAN/attributes', headers: auth })).json().shared;
    const set = await operator('/api/devices/0200_MSAN/attributes', {
      shared: { fw_title: 'evil', fw_version: '6.6.6', other: 1 },
    });
    expect(set.statusCode).toBe(400);
    expect(set.json().message).toBe(
      'fw_title, fw_version: firmware attributes are set by firmware assignment; use PATCH /api/devices/{idOrName} with {"firmwareId"} (or a rollout) instead',
    );
    const del = await operator('/api/devices/0200_MSAN/attributes', { deleted: ['fw_checksum'] });
    expect(del.statusCode).toBe(400);
    expect(del.json().message).toMatch(/^fw_checksum: firmware attributes are set by firmware assignment/);
    expect((await app.inject({ url: '/api/devices/0200_MSAN/attributes', headers: auth })).json().shared).toEqual(
      before,
    );
    expect(await queued()).toEqual([]);
  });
});

describe('server-side RPC to an HTTP device (long-poll)', () => {
  it('delivers to a waiting poll (real HTTP) and returns the device answer to the operator', async () => {
    const port = await freePort();
    await app.listen({ port, host: '127.0.0.1' });
    const poll = fetch(`http://127.0.0.1:${port}/api/v1/${TOKEN}/rpc?timeout=5000`);
    await new Promise((r) => setTimeout(r, 200));
    const call = operator('/api/devices/0200_MSAN/rpc', { method: 'setInterval', params: { s: 30 }, timeoutMs: 5000 });
    const got = await poll;
    expect(got.status).toBe(200);
    const { id, method, params } = (await got.json()) as { id: number; method: string; params: unknown };
    expect({ method, params }).toEqual({ method: 'setInterval', params: { s: 30 } });
    expect((await device('POST', `/api/v1/${TOKEN}/rpc/${id}`, '{"ok":true}')).statusCode).toBe(200);
    const res = await call;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ requestId: id, response: { ok: true } });
  });

  it('keeps an RPC for a device that polls later (oneway), and drops it once expired', async () => {
    const one = await operator('/api/devices/0200_MSAN/rpc', { method: 'reboot', oneway: true, timeoutMs: 5000 });
    expect(one.statusCode).toBe(202);
    const got = await device('GET', `/api/v1/${TOKEN}/rpc?timeout=1000`);
    expect(got.json()).toEqual({ id: one.json().requestId, method: 'reboot', params: {} });

    const late = await operator('/api/devices/0200_MSAN/rpc', { method: 'ping', timeoutMs: 200 });
    expect(late.statusCode).toBe(504);
    expect((await device('GET', `/api/v1/${TOKEN}/rpc?timeout=100`)).statusCode).toBe(408);
  });

  it("takes ThingsBoard's `timeout` and `expirationTime` for a lightweight RPC", async () => {
    const viaTimeout = await operator('/api/devices/0200_MSAN/rpc', { method: 'ping', timeout: 150 });
    expect(viaTimeout.statusCode).toBe(504);
    expect(viaTimeout.json().message).toMatch(/within 150 ms/);
    const viaExpiry = await operator('/api/devices/0200_MSAN/rpc', {
      method: 'ping',
      expirationTime: Date.now() + 400,
    });
    expect(viaExpiry.statusCode).toBe(504);
    const both = await operator('/api/devices/0200_MSAN/rpc', { method: 'ping', timeout: 150, timeoutMs: 200 });
    expect(both.statusCode).toBe(400);
    const far = await operator('/api/devices/0200_MSAN/rpc', {
      method: 'ping',
      expirationTime: Date.now() + 3_600_000,
    });
    expect(far.statusCode).toBe(400);
    expect(far.json().message).toMatch(/persistent/);
    // Nothing of these was stored as a persistent RPC.
    expect((await app.inject({ url: '/api/devices/0200_MSAN/rpc', headers: auth })).json().items).toEqual([]);
  });

  it('answers client-side getCurrentTime with the server clock', async () => {
    const before = Date.now();
    const res = await device('POST', `/api/v1/${TOKEN}/rpc`, '{"method":"getCurrentTime","params":{}}');
    expect(res.statusCode).toBe(200);
    expect(res.json().time).toBeGreaterThanOrEqual(before);
    expect((await device('POST', `/api/v1/${TOKEN}/rpc`, '{"method":"fly"}')).statusCode).toBe(501);
    expect((await device('POST', '/api/v1/NOT_A_TOKEN_123/rpc', '{"method":"getCurrentTime"}')).statusCode).toBe(401);
  });
});
