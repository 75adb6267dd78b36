/**
 * Persistent RPC end to end (docs/rpc.md): two real broker processes' gateways and a real API
 * (its sweeper every 200 ms) on one test database and Redis prefix; devices over MQTT and
 * over the HTTP device API.
 * - queued for an offline device, delivered by the OTHER broker when the device reconnects
 *   there, answered → SUCCESSFUL with the answer in the device's history;
 * - unanswered → each attempt times out and is sent again, `retries` times, then TIMEOUT;
 * - expired while the device is offline → EXPIRED and never delivered;
 * - Redis emptied while QUEUED → still delivered (the database is the truth);
 * - cancelled while QUEUED → never delivered; viewers cannot cancel;
 * - another device's answer changes nothing;
 * - oneway → DELIVERED on the PUBACK, final;
 * - an HTTP device's long-poll gets it, and its answer is recorded.
 * "Never delivered" is shown by order: a later RPC arrives while the earlier one did not.
 */
import { randomUUID } from 'node:crypto';
import { deviceCommandsKey, rpcPendingDevicesKey } from '@spms/queue';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createKey } from '../../apps/api/src/routes/users/access-fixtures.js';
import { type RpcStack, startRpcStack } from './test-support/rpc-stack.js';

let s: RpcStack;
beforeAll(async () => {
  s = await startRpcStack('e2e_prpc');
}, 60_000);
afterAll(async () => s?.close());

const addDevice = () => s.addDevice();
const device: RpcStack['device'] = (...a) => s.device(...a);
const call: RpcStack['call'] = (...a) => s.call(...a);
const send: RpcStack['send'] = (...a) => s.send(...a);
const state: RpcStack['state'] = (rpcId) => s.state(rpcId);

describe('persistent RPC', () => {
  it('is queued for an offline device, delivered by the other broker, and its answer is kept in the history', async () => {
    const dev = await addDevice();
    // Connected once to broker #1, then gone.
    const first = await device(0, dev.token);
    await first.client.endAsync();
    const sent = await send(dev.name, { method: 'setInterval', params: { s: 30 }, additionalInfo: { why: 'test' } });
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ status: 'QUEUED' });
    expect(sent.body.requestId).toBeGreaterThanOrEqual(1_000_000_000);
    expect(await state(sent.body.rpcId)).toMatchObject({ status: 'QUEUED', attempts: 0, deviceName: dev.name });

    const second = await device(1, dev.token, { answer: (r) => ({ ok: true, method: r.body.method }) });
    await expect
      .poll(() => second.got)
      .toEqual([{ requestId: sent.body.requestId, body: { method: 'setInterval', params: { s: 30 } } }]);
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
    const history = await call('GET', `/api/devices/${dev.name}/rpc`);
    expect(history.body.items).toHaveLength(1);
    expect(history.body.items[0]).toMatchObject({
      id: sent.body.rpcId,
      status: 'SUCCESSFUL',
      response: { ok: true, method: 'setInterval' },
      attempts: 1,
      additionalInfo: { why: 'test' },
    });
    expect((await call('GET', `/api/devices/${dev.name}/rpc?status=QUEUED`)).body.items).toEqual([]);
  });

  it('sends an unanswered RPC again after each timeout, `retries` times, then ends TIMEOUT', async () => {
    const dev = await addDevice();
    const d = await device(0, dev.token);
    const sent = await send(dev.id, { method: 'silent', timeoutMs: 300, retries: 2 });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('TIMEOUT');
    const final = await state(sent.body.rpcId);
    expect(final).toMatchObject({ attempts: 3, retries: 2 });
    expect(final.error).toMatch(/no answer within 300 ms \(attempt 3 of 3\)/);
    expect(d.got.map((g) => g.requestId)).toEqual([sent.body.requestId, sent.body.requestId, sent.body.requestId]);
  });

  it('expires while the device is offline and is never delivered afterwards', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'tooLate', expirationTime: Date.now() + 500 });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('EXPIRED');
    const d = await device(1, dev.token, { answer: () => 'ok' });
    const later = await send(dev.name, { method: 'inTime' });
    await expect.poll(async () => (await state(later.body.rpcId)).status).toBe('SUCCESSFUL');
    expect(d.got.map((g) => g.body.method)).toEqual(['inTime']);
    expect((await state(sent.body.rpcId)).status).toBe('EXPIRED');
  });

  it('is cancelled while queued (operators only) and then never delivered', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'cancelMe' });
    const viewer = await createKey(s.api, { name: 'prpc viewer', role: 'viewer' });
    expect((await call('DELETE', `/api/rpc/${sent.body.rpcId}`, undefined, bearer(viewer.key))).status).toBe(403);
    expect((await call('GET', `/api/rpc/${sent.body.rpcId}`, undefined, bearer(viewer.key))).status).toBe(200);
    const cancelled = await call('DELETE', `/api/rpc/${sent.body.rpcId}`);
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'CANCELLED' } });
    expect((await call('DELETE', `/api/rpc/${sent.body.rpcId}`)).status).toBe(409);
    const audit = await s.sql.query(`SELECT 1 FROM audit_log WHERE action = 'device.rpc.cancel' AND entity_id = $1`, [
      dev.id,
    ]);
    expect(audit.rowCount).toBe(1);
    const d = await device(0, dev.token, { answer: () => 'ok' });
    const later = await send(dev.name, { method: 'afterCancel' });
    await expect.poll(async () => (await state(later.body.rpcId)).status).toBe('SUCCESSFUL');
    expect(d.got.map((g) => g.body.method)).toEqual(['afterCancel']);
  });

  it("records only the addressed device's answer", async () => {
    const dev = await addDevice();
    const other = await addDevice();
    const d = await device(0, dev.token);
    const intruder = await device(1, other.token);
    const sent = await send(dev.name, { method: 'mine', timeoutMs: 60_000 });
    await expect.poll(() => d.got.length).toBe(1);
    await intruder.client.publishAsync(`v1/devices/me/rpc/response/${sent.body.requestId}`, '{"forged":true}', {
      qos: 1,
    });
    // Acknowledged (QoS 1) after it was handled: the row did not change.
    expect((await state(sent.body.rpcId)).status).not.toBe('SUCCESSFUL');
    await d.client.publishAsync(`v1/devices/me/rpc/response/${sent.body.requestId}`, '{"real":true}', { qos: 1 });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
    expect((await state(sent.body.rpcId)).response).toEqual({ real: true });
    // A second answer changes nothing either.
    await d.client.publishAsync(`v1/devices/me/rpc/response/${sent.body.requestId}`, '{"again":true}', { qos: 1 });
    expect((await state(sent.body.rpcId)).response).toEqual({ real: true });
  });

  it('ends a oneway RPC DELIVERED on the PUBACK', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'reboot', oneway: true, timeoutMs: 300 });
    const d = await device(1, dev.token);
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('DELIVERED');
    const delivered = await state(sent.body.rpcId);
    expect(delivered.completedAt).not.toBeNull();
    expect(delivered.deliveredAt).not.toBeNull();
    expect(d.got.map((g) => g.body.method)).toEqual(['reboot']);
    // Final: a later RPC goes through while this one stays DELIVERED, sent once.
    const later = await send(dev.name, { method: 'next', oneway: true });
    await expect.poll(async () => (await state(later.body.rpcId)).status).toBe('DELIVERED');
    expect(await state(sent.body.rpcId)).toMatchObject({ status: 'DELIVERED', attempts: 1 });
  });

  it('counts a QoS 0 subscription as delivered once written (there is no PUBACK)', async () => {
    const dev = await addDevice();
    const d = await device(0, dev.token, { qos: 0 });
    const sent = await send(dev.name, { method: 'qos0', oneway: true });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('DELIVERED');
    expect(d.got.map((g) => g.body.method)).toEqual(['qos0']);
  });

  it("reaches an HTTP device's long-poll, and its answer is recorded", async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'httpCall', params: { a: 1 } });
    const poll = await fetch(`${s.base}/api/v1/${dev.token}/rpc?timeout=20000`);
    expect(poll.status).toBe(200);
    expect(await poll.json()).toEqual({ id: sent.body.requestId, method: 'httpCall', params: { a: 1 } });
    await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('DELIVERED');
    const answer = await fetch(`${s.base}/api/v1/${dev.token}/rpc/${sent.body.requestId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ done: true }),
    });
    expect(answer.status).toBe(200);
    expect(await state(sent.body.rpcId)).toMatchObject({ status: 'SUCCESSFUL', response: { done: true } });
  });

  it('refuses bad persistent requests with a message saying what to fix, storing nothing', async () => {
    const dev = await addDevice();
    const past = await send(dev.name, { method: 'x', expirationTime: Date.now() - 1000 });
    expect(past.status).toBe(400);
    expect(past.body.message).toMatch(/expirationTime/);
    const tooFar = await send(dev.name, { method: 'x', expirationTime: Date.now() + 365 * 86_400_000 });
    expect(tooFar.status).toBe(400);
    expect((await send(dev.name, { method: 'x', retries: 10_000 })).status).toBe(400);
    const lightweight = await call('POST', `/api/devices/${dev.name}/rpc`, { method: 'x', retries: 1 });
    expect(lightweight.status).toBe(400);
    expect(lightweight.body.message).toMatch(/persistent/);
    expect((await call('GET', `/api/devices/${dev.name}/rpc`)).body.items).toEqual([]);
    expect((await call('GET', `/api/rpc/${randomUUID()}`)).status).toBe(404);
  });

  it('puts a lost copy back when the device connects (the marker spares a query for unmarked devices)', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'marked' });
    const r = new Redis(s.redis.url);
    try {
      // The copy is gone (a trimmed list); the sweeper's rebuild is held off, so only the
      // connect can bring it back.
      await r.set(`${rpcPendingDevicesKey(s.redis.prefix)}:rebuild`, '1', 'PX', 60_000);
      await r.del(deviceCommandsKey(s.redis.prefix, dev.id));
      expect(await r.sismember(rpcPendingDevicesKey(s.redis.prefix), dev.id)).toBe(1);
      const d = await device(1, dev.token, { answer: () => 'ok' });
      await expect.poll(async () => (await state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
      expect(d.got.map((g) => g.body.method)).toEqual(['marked']);
    } finally {
      await r.del(`${rpcPendingDevicesKey(s.redis.prefix)}:rebuild`);
      r.disconnect();
    }
  });

  // Last: it empties the test's Redis prefix under everything above.
  it('is still delivered after Redis lost everything while it was queued', async () => {
    const dev = await addDevice();
    const sent = await send(dev.name, { method: 'survivor' });
    const r = new Redis(s.redis.url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${s.redis.prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await r.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      r.disconnect();
    }
    const d = await device(0, dev.token, { answer: () => ({ alive: true }) });
    await expect.poll(async () => (await state(sent.body.rpcId)).status, { timeout: 20_000 }).toBe('SUCCESSFUL');
    expect(d.got.map((g) => g.body.method)).toEqual(['survivor']);
  });
});
