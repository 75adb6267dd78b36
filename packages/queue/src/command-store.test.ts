/** The command store's Redis scripts on a real Redis (own key prefix). */
import { createTestRedis, type TestRedis } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relayRpcResponse, sendDeviceCommand, takeDeviceCommands } from './command-store.js';
import {
  type DeviceCommand,
  deviceCommandsKey,
  gatewayAliveKey,
  gatewayInboxKey,
  MAX_PENDING_COMMANDS,
  rpcResponseKey,
  sessionOwnersKey,
} from './commands.js';

let t: TestRedis;
let r: Redis;
const DEV = '11111111-2222-4333-8444-555555555555';
const later = (ms = 60_000) => Date.now() + ms;
const attrs = (n: number, expiresAt = later()): DeviceCommand => ({
  kind: 'attributes',
  deviceId: DEV,
  payload: { n },
  expiresAt,
});
const rpc = (requestId: number, expiresAt = later()): DeviceCommand => ({
  kind: 'rpc',
  deviceId: DEV,
  requestId,
  method: 'm',
  params: {},
  expiresAt,
});
const list = () => deviceCommandsKey(t.prefix, DEV);

beforeAll(() => {
  t = createTestRedis('command_store');
  r = new Redis(t.url);
});
afterAll(async () => {
  r?.disconnect();
  await t?.cleanup();
});

describe('sendDeviceCommand', () => {
  it('queues an attribute push only for a live owner, and tells that owner through its inbox', async () => {
    const opts = { onlyIfLive: true, wakeup: false };
    expect((await sendDeviceCommand(r, t.prefix, attrs(1), opts)).result).toBe('not_queued');
    await r.hset(sessionOwnersKey(t.prefix), DEV, 'gw-a 7');
    // Recorded, but that broker is not running (no alive key): still not queued.
    expect((await sendDeviceCommand(r, t.prefix, attrs(2), opts)).result).toBe('not_queued');
    await r.set(gatewayAliveKey(t.prefix, 'gw-a'), '1', 'PX', 60_000);
    expect((await sendDeviceCommand(r, t.prefix, attrs(3), opts)).result).toBe('live');
    expect(await r.smembers(gatewayInboxKey(t.prefix, 'gw-a'))).toEqual([`c:${DEV}`]);
    expect((await r.lrange(list(), 0, -1)).map((x) => JSON.parse(x).payload)).toEqual([{ n: 3 }]);
    await r.del(list(), sessionOwnersKey(t.prefix), gatewayInboxKey(t.prefix, 'gw-a'));
  });

  it('tells the new owner when the session moves between reading its owner and the script (read again)', async () => {
    const opts = { onlyIfLive: true, wakeup: false };
    const owners = sessionOwnersKey(t.prefix);
    await r.hset(owners, DEV, 'gw-a 1');
    await r.set(gatewayAliveKey(t.prefix, 'gw-a'), '1', 'PX', 60_000);
    await r.set(gatewayAliveKey(t.prefix, 'gw-b'), '1', 'PX', 60_000);
    // A takeover lands right after the sender's first read of the owner.
    let reads = 0;
    const racing = new Proxy(r, {
      get(target, prop, receiver) {
        if (prop !== 'hget') return Reflect.get(target, prop, receiver);
        return async (key: string, field: string) => {
          const value = await target.hget(key, field);
          if (++reads === 1) await target.hset(owners, DEV, 'gw-b 2');
          return value;
        };
      },
    });
    expect((await sendDeviceCommand(racing, t.prefix, attrs(9), opts)).result).toBe('live');
    expect(reads).toBe(2);
    expect(await r.smembers(gatewayInboxKey(t.prefix, 'gw-a'))).toEqual([]);
    expect(await r.smembers(gatewayInboxKey(t.prefix, 'gw-b'))).toEqual([`c:${DEV}`]);
    expect(await r.llen(list())).toBe(1);
    await r.del(list(), owners, gatewayInboxKey(t.prefix, 'gw-b'));
  });

  it("queued for a session whose broker's alive key lapsed (a stall), its inbox still names the device", async () => {
    await r.hset(sessionOwnersKey(t.prefix), DEV, 'gw-stalled 4');
    const sent = await sendDeviceCommand(r, t.prefix, rpc(7), { onlyIfLive: false, wakeup: false });
    expect(sent.result).toBe('queued');
    // Its next sweep delivers it, as for a live one; no wake-up was published.
    expect(await r.smembers(gatewayInboxKey(t.prefix, 'gw-stalled'))).toEqual([`c:${DEV}`]);
    await r.del(list(), sessionOwnersKey(t.prefix), gatewayInboxKey(t.prefix, 'gw-stalled'));
  });

  it('queues an RPC for an offline device, expiring with the longest wait, capped per device', async () => {
    const opts = { onlyIfLive: false, wakeup: false };
    expect((await sendDeviceCommand(r, t.prefix, rpc(1, later(60_000)), opts)).result).toBe('queued');
    await sendDeviceCommand(r, t.prefix, rpc(2, later(1_000)), opts);
    // A shorter command does not shorten the list's life.
    expect(await r.pttl(list())).toBeGreaterThan(30_000);
    for (let i = 0; i < MAX_PENDING_COMMANDS; i++) await sendDeviceCommand(r, t.prefix, rpc(100 + i), opts);
    expect(await r.llen(list())).toBe(MAX_PENDING_COMMANDS);
    expect(JSON.parse((await r.lindex(list(), 0)) as string).requestId).toBe(100); // oldest dropped first
    await r.del(list());
  });
});

describe('takeDeviceCommands', () => {
  it('gives the commands only to the recorded owner; RPCs only to a session subscribed to them', async () => {
    const opts = { onlyIfLive: false, wakeup: false };
    await sendDeviceCommand(r, t.prefix, attrs(1), opts);
    await sendDeviceCommand(r, t.prefix, rpc(5), opts);
    await sendDeviceCommand(r, t.prefix, attrs(2, Date.now() - 1), opts); // already expired
    await r.hset(sessionOwnersKey(t.prefix), DEV, 'gw-b 9');
    expect(await takeDeviceCommands(r, t.prefix, DEV, 'gw-old 3', true)).toBeNull();
    const ttl = await r.pttl(list());
    const first = await takeDeviceCommands(r, t.prefix, DEV, 'gw-b 9', false);
    expect(first?.map((c) => c.kind)).toEqual(['attributes']);
    // The RPC stays, with the list's expiry.
    expect(await r.llen(list())).toBe(1);
    expect(await r.pttl(list())).toBeLessThanOrEqual(ttl);
    expect(await r.pttl(list())).toBeGreaterThan(0);
    const second = await takeDeviceCommands(r, t.prefix, DEV, 'gw-b 9', true);
    expect(second).toMatchObject([{ kind: 'rpc', requestId: 5 }]);
    expect(await r.exists(list())).toBe(0);
    expect(await takeDeviceCommands(r, t.prefix, DEV, 'gw-b 9', true)).toEqual([]);
    await r.del(sessionOwnersKey(t.prefix));
  });
});

describe('relayRpcResponse', () => {
  it('stores an answer only where one is awaited, keeping the wait expiry', async () => {
    expect(await relayRpcResponse(r, t.prefix, DEV, 41, { ok: 1 }, false)).toBe(false);
    expect(await r.exists(rpcResponseKey(t.prefix, DEV, 41))).toBe(0);
    await r.set(rpcResponseKey(t.prefix, DEV, 42), '', 'PX', 10_000);
    expect(await relayRpcResponse(r, t.prefix, DEV, 42, { ok: 1 }, false)).toBe(true);
    expect(await r.get(rpcResponseKey(t.prefix, DEV, 42))).toBe('{"ok":1}');
    expect(await r.pttl(rpcResponseKey(t.prefix, DEV, 42))).toBeGreaterThan(0);
  });
});
