/**
 * Two brokers, two workers and two APIs as separate processes against one database and one
 * Redis prefix (support/cluster.ts): what one process starts, another finishes.
 * - an operator command sent through API #1 reaches a device connected to broker #2, and the
 *   device's answer comes back through API #1 (and the reverse pair);
 * - a device connecting to broker #2 with the same client id takes over from broker #1;
 * - an SSE client on API #2 sees a line change ingested through broker #1;
 * - two workers consume one queue and each outage is recorded once.
 * The same with every pub/sub wake-up switched off: cross-process-lost-wakeups.test.ts.
 */
import { INGEST_QUEUE, sessionOwnersKey } from '@spms/queue';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as sse } from '../../apps/api/src/test-support/sse-client.js';
import { ADMIN_KEY, answerRpcs, type Cluster, startCluster, telemetry, waitFor } from './test-support/cluster.js';

let c: Cluster;
let r: Redis;

beforeAll(async () => {
  c = await startCluster('xproc', { brokers: 2, workers: 2, apis: 2 });
  r = new Redis(c.redis.url);
}, 120_000);

afterAll(async () => {
  r?.disconnect();
  await c?.close();
});

describe('device commands across processes', () => {
  it('an RPC through API #1 reaches a device on broker #2 and its answer comes back through API #1', async () => {
    const dev = await c.addDevice();
    const device = await c.connect(1, dev, 'xp-rpc-1');
    const got = await answerRpcs(device);
    const started = Date.now();
    const call = await c.api(0, 'POST', `/api/devices/${dev.name}/rpc`, {
      method: 'setInterval',
      params: { s: 30 },
      timeoutMs: 15_000,
    });
    console.log(`cross-process: RPC round trip with wake-ups ${Date.now() - started} ms`);
    expect(call.status, c.output()).toBe(200);
    expect(call.body.response).toEqual({ ok: true, method: 'setInterval' });
    expect(got).toEqual([{ method: 'setInterval', params: { s: 30 } }]);

    // The reverse pair, and a shared-attribute push to the live session.
    const dev2 = await c.addDevice();
    const device2 = await c.connect(0, dev2, 'xp-rpc-2');
    await answerRpcs(device2);
    const pushes: unknown[] = [];
    device2.on('message', (t, p) => t === 'v1/devices/me/attributes' && pushes.push(JSON.parse(p.toString())));
    const back = await c.api(1, 'POST', `/api/devices/${dev2.id}/rpc`, { method: 'ping', timeoutMs: 15_000 });
    expect(back.body).toMatchObject({ response: { ok: true, method: 'ping' } });
    const push = await c.api(1, 'POST', `/api/devices/${dev2.name}/attributes`, { shared: { interval: 60 } });
    expect(push.body).toMatchObject({ delivered: 1 });
    await waitFor('the attribute push', async () => pushes.length === 1);
    expect(pushes).toEqual([{ interval: 60 }]);
  });
});

describe('session takeover across brokers', () => {
  it('a device connecting to broker #2 with the same client id closes its session on broker #1', async () => {
    const dev = await c.addDevice();
    const first = await c.connect(0, dev, 'xp-takeover');
    const firstClosed = new Promise<number>((res) => first.once('close', () => res(Date.now())));
    const started = Date.now();
    const second = await c.connect(1, dev, 'xp-takeover');
    console.log(
      `cross-process: takeover with wake-ups closed the old session ${(await firstClosed) - started} ms after the new CONNECT`,
    );
    expect(
      await c.metric(
        c.brokers[0]?.httpPort as number,
        'spms_broker_connectivity_events_total',
        '{event="session_replaced"}',
      ),
    ).toBeGreaterThan(0);
    // One session: the record names broker #2's, which keeps serving.
    const owner = await r.hget(sessionOwnersKey(c.redis.prefix), dev.id);
    expect(owner).toBeTruthy();
    await telemetry(second, Date.now(), { '3': true });
    const got = await answerRpcs(second);
    const call = await c.api(0, 'POST', `/api/devices/${dev.id}/rpc`, { method: 'afterTakeover', timeoutMs: 15_000 });
    expect(call.status).toBe(200);
    expect(got.map((g) => g.method)).toEqual(['afterTakeover']);
    expect(second.connected).toBe(true);
  });
});

describe('live events across processes', () => {
  it('an SSE client on API #2 sees a line change ingested through broker #1', async () => {
    const dev = await c.addDevice();
    const device = await c.connect(0, dev, 'xp-sse');
    const stream = await sse(`${c.apis[1]?.url}/api/stream?access_token=${ADMIN_KEY}`);
    expect(stream.status).toBe(200);
    const t0 = Date.now() - 10_000;
    await telemetry(device, t0, { '3': true });
    await telemetry(device, t0 + 1000, { '3': false });
    await stream.waitFor((s) => s.events.some((e) => e.event === 'outage.opened' && e.data?.includes(dev.id)), 20_000);
    stream.close();
  });
});

describe('two workers on one queue', () => {
  it('both take jobs, and every outage is recorded once', async () => {
    const workerJobs = () =>
      Promise.all(c.workers.map((w) => c.metric(w.httpPort, 'spms_worker_ingest_jobs_total', '{result="completed"}')));
    // Both workers must be consuming before the run counts for anything: neutral reports
    // until each worker has finished a job (BullMQ hands jobs to whichever worker asks).
    const warm = await c.connect(1, await c.addDevice(), 'xp-warm');
    for (let i = 0; i < 200 && (await workerJobs()).some((n) => n === 0); i++)
      await telemetry(warm, Date.now(), { '5': true });
    warm.end(true);
    expect((await workerJobs()).every((n) => n > 0)).toBe(true);

    const devs = await Promise.all(Array.from({ length: 20 }, () => c.addDevice()));
    const devices = await Promise.all(devs.map((d, i) => c.connect(i % 2, d, `xp-w-${i}`)));
    const before = await workerJobs();
    const t0 = Date.now() - 60_000;
    // Rounds of concurrent publishes through both brokers: many jobs, taken by either worker.
    for (const [k, powered] of [true, false, true].entries())
      await Promise.all(devices.map((d) => telemetry(d, t0 + k * 1000, { '3': powered })));
    const queue = new Queue(INGEST_QUEUE, { connection: { url: c.redis.url }, prefix: c.redis.prefix });
    queue.on('error', () => {});
    try {
      // Everything acknowledged (PUBACK) is in the queue: done once nothing is left in it.
      await waitFor(
        'the ingest queue to drain',
        async () => {
          const n = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
          return Object.values(n).every((x) => x === 0);
        },
        30_000,
      );
    } finally {
      await queue.close();
    }
    const ids = devs.map((d) => d.id);
    const { rows } = await c.sql.query(
      `SELECT device_id::text, count(*)::int AS n, count(ended_at)::int AS closed
         FROM outages WHERE device_id = ANY($1::uuid[]) GROUP BY 1`,
      [ids],
    );
    expect(rows).toHaveLength(devs.length);
    expect(rows.filter((x) => x.n !== 1 || x.closed !== 1)).toEqual([]);
    const opened = await c.sql.query(
      `SELECT count(*)::int AS n FROM domain_events WHERE type = 'outage.opened' AND device_id = ANY($1::uuid[])`,
      [ids],
    );
    expect(opened.rows[0].n).toBe(devs.length);
    const after = await workerJobs();
    console.log(`cross-process: ingest jobs per worker during the run: ${after.map((n, i) => n - (before[i] ?? 0))}`);
  }, 90_000);
});
