/**
 * The session-owner record in Redis (session-claims.ts) against a real gateway, without any
 * pub/sub wake-up (PUBSUB_WAKEUPS=false): the record follows the session, a record another
 * broker overwrote closes the session though no inbox entry or message said so (the full
 * check), a record Redis lost is claimed again, and commands reach the device through the
 * inbox sweep alone.
 */
import { type ConnectivityMessage, sendDeviceCommand, sessionOwnersKey } from '@spms/queue';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
let r: Redis;
let deviceId: string;
const TOKEN = 'token-claims-0011';
const owners = () => sessionOwnersKey(h.redis.prefix);
/** The full check's period here (60 s by default), plus slack for a loaded machine. */
const FULL_CHECK_EVERY_MS = 3000;
const FULL_CHECK_MS = FULL_CHECK_EVERY_MS + 5000;

beforeAll(async () => {
  h = await startHarness('broker_claims', {
    PUBSUB_WAKEUPS: 'false',
    SESSION_FULL_CHECK_MS: String(FULL_CHECK_EVERY_MS),
  });
  r = new Redis(h.redis.url);
  deviceId = await h.addDevice('0011_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
});
afterAll(async () => {
  r?.disconnect();
  await h?.close();
});

describe('session owner record', () => {
  it('is written on connect and removed on a clean disconnect', async () => {
    const c = await h.connect({ clientId: 'claims-a', username: TOKEN });
    await until(async () => (await r.hget(owners(), deviceId)) !== null);
    expect(await r.hget(owners(), deviceId)).toMatch(/^[0-9a-f-]{36} \d+$/);
    await c.endAsync();
    await until(async () => (await r.hget(owners(), deviceId)) === null);
  });

  it('delivers a command through the inbox sweep alone', async () => {
    const c = await h.connect({ clientId: 'claims-b', username: TOKEN });
    await c.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    await until(async () => (await r.hget(owners(), deviceId)) !== null);
    const got: string[] = [];
    c.on('message', (_t, p) => got.push(p.toString()));
    const sent = await sendDeviceCommand(
      r,
      h.redis.prefix,
      { kind: 'attributes', deviceId, payload: { k: 1 }, expiresAt: Date.now() + 60_000 },
      { onlyIfLive: true, wakeup: false },
    );
    expect(sent.result).toBe('live');
    await until(() => got.length === 1, 5000);
    expect(got).toEqual(['{"k":1}']);
    await c.endAsync();
  });

  it('is claimed again when Redis lost it, and a record naming another claim closes the session', async () => {
    const since = await h.mark();
    const c = await h.connect({ clientId: 'claims-c', username: TOKEN });
    await until(async () => (await r.hget(owners(), deviceId)) !== null);
    const first = (await r.hget(owners(), deviceId)) as string;
    const [gateway, fence] = first.split(' ');
    await r.hdel(owners(), deviceId);
    await until(async () => (await r.hget(owners(), deviceId)) !== null, FULL_CHECK_MS);
    const again = (await r.hget(owners(), deviceId)) as string;
    expect(again.split(' ')[0]).toBe(gateway);
    expect(Number(again.split(' ')[1])).toBeGreaterThan(Number(fence));
    expect(c.connected).toBe(true);

    // Another broker's claim whose inbox entry never arrived: found by the full check.
    const closed = new Promise<void>((res) => c.once('close', () => res()));
    await r.hset(owners(), deviceId, 'another-broker 999999999');
    await Promise.race([
      closed,
      new Promise((_, fail) => setTimeout(() => fail(new Error('session not closed')), FULL_CHECK_MS)),
    ]);
    await until(async () =>
      (await since()).some(
        (m) => m.kind === 'connectivity' && m.deviceId === deviceId && m.event === 'session_replaced',
      ),
    );
    const replaced = (await since()).find(
      (m): m is ConnectivityMessage => m.kind === 'connectivity' && m.event === 'session_replaced',
    );
    expect(replaced?.detail).toEqual({ by: 'other_gateway' });
    // The closed session does not delete the other broker's record.
    expect(await r.hget(owners(), deviceId)).toBe('another-broker 999999999');
    await r.hdel(owners(), deviceId);
  }, 40_000);
});
