/**
 * cross-process.test.ts again with every pub/sub wake-up lost: the brokers and APIs run
 * with PUBSUB_WAKEUPS=false, so none of them publishes one (checked: nothing arrives on the
 * wake-up channels). Commands, RPC answers and takeovers must still arrive, through what
 * each process re-reads from Redis on its own (the brokers' inbox sweep, the APIs' answer
 * and long-poll sweeps), a sweep interval (CROSS_PROCESS_SWEEP_MS) later at most.
 */
import { deviceCommandChannel, rpcResponseChannel, sessionClaimsChannel, sessionOwnersKey } from '@spms/queue';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerRpcs, type Cluster, sleep, startCluster, telemetry, waitFor } from './test-support/cluster.js';

let c: Cluster;
let r: Redis;
let spy: Redis;
const wakeups: string[] = [];
/** Measured delays, printed at the end (for the record; nothing asserts speed). */
const measured: string[] = [];

beforeAll(async () => {
  c = await startCluster('xproc_lost', { brokers: 2, workers: 0, apis: 2, env: { PUBSUB_WAKEUPS: 'false' } });
  r = new Redis(c.redis.url);
  spy = new Redis(c.redis.url);
  const p = c.redis.prefix;
  spy.on('message', (ch: string) => wakeups.push(ch));
  await spy.subscribe(deviceCommandChannel(p), rpcResponseChannel(p), sessionClaimsChannel(p));
}, 120_000);

afterAll(async () => {
  if (measured.length > 0) console.log(`lost wake-ups, measured: ${measured.join('; ')}`);
  spy?.disconnect();
  r?.disconnect();
  await c?.close();
});

describe('device commands without wake-ups', () => {
  it('an RPC through API #1 still reaches a device on broker #2 and its answer still comes back', async () => {
    const dev = await c.addDevice();
    const device = await c.connect(1, dev, 'xl-rpc');
    const got = await answerRpcs(device);
    const pushes: unknown[] = [];
    device.on('message', (t, p) => t === 'v1/devices/me/attributes' && pushes.push(JSON.parse(p.toString())));
    const started = Date.now();
    const call = await c.api(0, 'POST', `/api/devices/${dev.name}/rpc`, { method: 'lost', timeoutMs: 15_000 });
    measured.push(`RPC round trip ${Date.now() - started} ms`);
    expect(call.status, c.output()).toBe(200);
    expect(call.body.response).toEqual({ ok: true, method: 'lost' });
    expect(got.map((g) => g.method)).toEqual(['lost']);

    const push = await c.api(0, 'POST', `/api/devices/${dev.name}/attributes`, { shared: { mode: 'eco' } });
    expect(push.body).toMatchObject({ delivered: 1 });
    await waitFor('the attribute push', async () => pushes.length === 1);
    expect(pushes).toEqual([{ mode: 'eco' }]);
  });

  it('an RPC to a device that connects while it waits is delivered once the device subscribes', async () => {
    const dev = await c.addDevice();
    const call = c.api(1, 'POST', `/api/devices/${dev.id}/rpc`, { method: 'whenBack', timeoutMs: 15_000 });
    await waitFor('the RPC to be queued', async () => (await r.llen(`${c.redis.prefix}:device:cmds:${dev.id}`)) > 0);
    const device = await c.connect(0, dev, 'xl-late');
    const got = await answerRpcs(device);
    expect((await call).body).toMatchObject({ response: { ok: true, method: 'whenBack' } });
    expect(got.map((g) => g.method)).toEqual(['whenBack']);
  });

  it('an HTTP device polling API #2 gets an RPC sent through API #1, and its answer reaches API #1', async () => {
    const dev = await c.addDevice();
    const poll = fetch(`${c.apis[1]?.url}/api/v1/${dev.token}/rpc?timeout=15000`);
    await sleep(200); // the poll is waiting (it would also find an RPC queued before it)
    const call = c.api(0, 'POST', `/api/devices/${dev.name}/rpc`, { method: 'httpLost', timeoutMs: 15_000 });
    const got = await poll;
    expect(got.status).toBe(200);
    const req = (await got.json()) as { id: number; method: string };
    expect(req.method).toBe('httpLost');
    const answer = await fetch(`${c.apis[1]?.url}/api/v1/${dev.token}/rpc/${req.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"done":true}',
    });
    expect(answer.status).toBe(200);
    expect((await call).body).toEqual({ requestId: req.id, response: { done: true } });
  });
});

describe('session takeover without wake-ups', () => {
  it('broker #1 closes its session once broker #2 claimed the device, though nobody told it', async () => {
    const dev = await c.addDevice();
    const first = await c.connect(0, dev, 'xl-takeover');
    await telemetry(first, Date.now(), { '3': true });
    const firstClosed = new Promise<number>((res) => first.once('close', () => res(Date.now())));
    const started = Date.now();
    const second = await c.connect(1, dev, 'xl-takeover');
    measured.push(`takeover closed the old session ${(await firstClosed) - started} ms after the new CONNECT`);
    const owner = await r.hget(sessionOwnersKey(c.redis.prefix), dev.id);
    expect(owner).toMatch(/^\S+ \d+$/);
    // The new session stays (a later sweep does not close it) and serves commands.
    const got = await answerRpcs(second);
    const call = await c.api(1, 'POST', `/api/devices/${dev.id}/rpc`, { method: 'stillHere', timeoutMs: 15_000 });
    expect(call.status).toBe(200);
    expect(got.map((g) => g.method)).toEqual(['stillHere']);
    await telemetry(second, Date.now(), { '3': true });
    expect(second.connected).toBe(true);
    expect(await r.hget(sessionOwnersKey(c.redis.prefix), dev.id)).toBe(owner);
  });

  it('published no wake-up at all', () => {
    expect(wakeups).toEqual([]);
  });
});
