/**
 * Handler-level integration tests: real PostgreSQL and Redis, jobs enqueued the way the
 * gateway does, rows asserted.
 */
import { createIngestProducer, type IngestMessage } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, mqttFixture, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const BASE = Date.UTC(2026, 10, 27, 6, 0, 0);

function scenario(deviceId: string): IngestMessage[] {
  return mqttFixture.scenario.events.map((e, i) =>
    telemetry(deviceId, e.payload, BASE + Math.round(e.t * 1000), `m${String(i).padStart(4, '0')}`),
  );
}

describe('ingest worker', () => {
  it('turns the firmware fixture scenario into exactly one outage on line 3 of 305 s', async () => {
    h = await createHarness('fixture');
    const dev = await h.addDevice();
    await h.start();
    // The real producer, one message at a time as the gateway would (group commit may batch them).
    const producer = createIngestProducer({ redisUrl: h.redis.url, prefix: h.redis.prefix, maxDelayMs: 0 });
    for (const m of scenario(dev)) await producer.enqueue(m);
    const jobs = producer.stats().batches;
    await producer.close();
    await h.drained(jobs);
    expect(await h.outages(dev)).toEqual([
      {
        line: 3,
        started_at: BASE + 95_000,
        ended_at: BASE + 400_000,
        duration_ms: 305_000,
        unknown_ms: 0,
        class: 'sustained',
      },
    ]);
    // Opened and closed, in commit order. (An 'outage.sustained' may come between them: the
    // sweeper reclassifies an outage still open past the momentary threshold in wall time,
    // and this history is in the past — legitimate, and timing-dependent.)
    const events = await h.pool.query(
      `SELECT type FROM domain_events WHERE type IN ('outage.opened', 'outage.closed') ORDER BY seq`,
    );
    expect(events.rows.map((r) => r.type)).toEqual(['outage.opened', 'outage.closed']);
    const lines = await h.pool.query('SELECT line, powered FROM line_state WHERE device_id = $1 ORDER BY line', [dev]);
    expect(lines.rows).toHaveLength(8);
    expect(lines.rows.every((r) => r.powered)).toBe(true);
    const samples = await h.pool.query('SELECT count(*)::int AS n FROM voltage_samples WHERE device_id = $1', [dev]);
    expect(samples.rows[0].n).toBe(6);
    const state = await h.pool.query('SELECT volts, active FROM device_state WHERE device_id = $1', [dev]);
    expect(state.rows[0].volts).toBeCloseTo(229.2, 3);
  });

  it('gives the same outages for shuffled, duplicated and late delivery as for in-order delivery', async () => {
    h = await createHarness('shuffle');
    const inOrder = await h.addDevice();
    const shuffled = await h.addDevice();
    await h.start();
    const make = (dev: string) => {
      // Timestamped reports ({"ts","values"}): a sequence with outages on lines 2 and 5.
      const seq: [number, string][] = [
        [0, "{'2':'true','5':'true'}"],
        [10, "{'2':'false'}"],
        [20, "{'5':'false'}"],
        [25, "{'2':'false'}"],
        [40, "{'2':'true'}"],
        [50, "{'5':'true'}"],
        [60, "{'2':'false'}"],
        [70, "{'2':'true'}"],
      ];
      return seq.map(([t, payload], i) => {
        const m = telemetry(dev, payload, BASE + 500_000 + i, `s${i}`);
        if (m.kind === 'telemetry') for (const e of m.entries) e.ts = BASE + t * 1000;
        return m;
      });
    };
    const a = make(inOrder);
    for (const m of a) await h.enqueue([m]);
    const b = make(shuffled);
    const order = [5, 1, 7, 0, 3, 3, 6, 2, 4, 1, 5];
    for (const i of order) await h.enqueue([b[i] as IngestMessage]);
    await h.drained(a.length + order.length);
    const want = await h.outages(inOrder);
    expect(want.map((o) => [o.line, o.started_at - BASE, o.ended_at === null ? null : o.ended_at - BASE])).toEqual([
      [2, 10_000, 40_000],
      [2, 60_000, 70_000],
      [5, 20_000, 50_000],
    ]);
    expect(await h.outages(shuffled)).toEqual(want);
    const count = async (dev: string) =>
      (
        await h?.pool.query(
          'SELECT type, count(*)::int AS n FROM domain_events WHERE device_id = $1 GROUP BY type ORDER BY type',
          [dev],
        )
      )?.rows;
    expect((await count(inOrder))?.find((r) => r.type === 'outage.opened')?.n).toBe(3);
  });

  it('does not change anything when a job is redelivered', async () => {
    h = await createHarness('redeliver');
    const dev = await h.addDevice();
    await h.start();
    const msgs = scenario(dev);
    await h.enqueue(msgs);
    await h.drained(1);
    const snapshot = async () => ({
      outages: await h?.outages(dev),
      events: (await h?.pool.query('SELECT id FROM domain_events ORDER BY id'))?.rows,
      lineEvents: (await h?.pool.query('SELECT count(*)::int AS n FROM line_events'))?.rows[0].n,
    });
    const before = await snapshot();
    // The same messages again, in a new job (what BullMQ does after a stall) and split up.
    await h.enqueue(msgs);
    await h.enqueue(msgs.slice(3, 14));
    await h.drained(3);
    expect(await snapshot()).toEqual(before);
    expect(before.outages).toHaveLength(1);
  });

  it('dead-letters a schema-invalid message alone with its reason and does not retry it', async () => {
    h = await createHarness('deadletter');
    const dev = await h.addDevice();
    await h.start();
    const bad = { ...telemetry(dev, "{'1':'true'}", BASE), deviceId: 'not-a-uuid' } as IngestMessage;
    const jobId = await h.enqueue([bad]);
    await h.drained(1);
    const job = await h.queue.getJob(jobId);
    expect(job?.attemptsMade).toBe(1);
    expect(await job?.getState()).toBe('completed');
    const { rows } = await h.pool.query('SELECT job_id, message_id, reason FROM dead_letters');
    expect(rows).toEqual([{ job_id: jobId, message_id: bad.id, reason: 'messages[0].deviceId: not a UUID' }]);
  });

  it('keeps one device serial across two workers with concurrency 8 (no duplicate or overlapping outages)', async () => {
    h = await createHarness('concurrent', { WORKER_CONCURRENCY: '8', WORKER_DB_POOL: '10' });
    const dev = await h.addDevice();
    await h.start();
    await h.start();
    // Line 4 flaps: 101 reports, each its own job, enqueued in a scrambled order.
    const msgs = Array.from({ length: 101 }, (_, i) => {
      const m = telemetry(dev, `{'4':'${i % 2 === 0 ? 'true' : 'false'}'}`, BASE + i, `c${String(i).padStart(4, '0')}`);
      if (m.kind === 'telemetry') for (const e of m.entries) e.ts = BASE + i * 1000;
      return m;
    });
    const order = msgs.map((_, i) => (i * 37) % msgs.length);
    await h.queue.addBulk(order.map((i) => ({ name: 'batch', data: { v: 1, messages: [msgs[i]] } })));
    await h.drained(order.length, 40_000);
    const got = await h.outages(dev);
    expect(got).toHaveLength(50);
    for (const [i, o] of got.entries()) {
      expect(o.started_at).toBe(BASE + (2 * i + 1) * 1000);
      expect(o.ended_at).toBe(BASE + (2 * i + 2) * 1000);
    }
    const open = await h.pool.query('SELECT count(*)::int AS n FROM outages WHERE ended_at IS NULL');
    expect(open.rows[0].n).toBe(0);
  });
});
