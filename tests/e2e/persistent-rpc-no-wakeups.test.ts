/**
 * Persistent RPC with every pub/sub wake-up off (PUBSUB_WAKEUPS=false in the brokers and the
 * API): what crosses processes is in PostgreSQL and Redis, so queued delivery on the other
 * broker, retries and the HTTP long-poll still work, only on the receivers' sweeps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RpcStack, startRpcStack } from './test-support/rpc-stack.js';

let s: RpcStack;
beforeAll(async () => {
  s = await startRpcStack('e2e_prpc_nowake', { PUBSUB_WAKEUPS: 'false' });
}, 60_000);
afterAll(async () => s?.close());

describe('persistent RPC without wake-ups', () => {
  it('reaches a device that reconnects to the other broker, and is retried after a timeout', async () => {
    const dev = await s.addDevice();
    const first = await s.device(0, dev.token);
    await first.client.endAsync();
    let calls = 0;
    const sent = await s.send(dev.name, { method: 'second', timeoutMs: 500, retries: 1 });
    // The first attempt goes unanswered, the retry is answered.
    const d = await s.device(1, dev.token, { answer: () => (++calls === 2 ? { ok: true } : undefined) });
    await expect.poll(async () => (await s.state(sent.body.rpcId)).status).toBe('SUCCESSFUL');
    expect(await s.state(sent.body.rpcId)).toMatchObject({ attempts: 2, response: { ok: true } });
    expect(d.got.map((g) => g.body.method)).toEqual(['second', 'second']);
  });

  it("reaches an HTTP device's long-poll", async () => {
    const dev = await s.addDevice();
    const poll = fetch(`${s.base}/api/v1/${dev.token}/rpc?timeout=20000`);
    const sent = await s.send(dev.name, { method: 'polled' });
    const got = await poll;
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({ id: sent.body.requestId, method: 'polled' });
    await expect.poll(async () => (await s.state(sent.body.rpcId)).status).toBe('DELIVERED');
  });
});
