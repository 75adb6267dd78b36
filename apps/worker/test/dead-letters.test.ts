/**
 * Per-message isolation in the worker: a job with one invalid message (what a buggy or older
 * gateway could queue) records every other message and dead-letters that one alone, with
 * its device, raw message and reason. A wrong contract version is a whole-job dead letter.
 */
import { INGEST_JOB, type IngestMessage } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const NOW = Date.now();

describe('dead letters per message', () => {
  it('processes the others and dead-letters the invalid message alone, with device, payload and reason', async () => {
    h = await createHarness('dl_isolation');
    const neighbours = await Promise.all(Array.from({ length: 5 }, () => h!.addDevice()));
    const offender = await h.addDevice();
    await h.start();
    const good = neighbours.map((d, i) => telemetry(d, `{'${(i % 8) + 1}':'false'}`, NOW - 1000));
    // ts in seconds, as a gateway without the timestamp rule would have queued it.
    const bad: IngestMessage = {
      kind: 'telemetry',
      id: 'bad-seconds-1',
      deviceId: offender,
      receivedAt: NOW,
      transport: 'mqtt',
      entries: [{ ts: 1733150000, values: { 1: false } }],
    };
    const jobId = await h.enqueue([...good.slice(0, 2), bad, ...good.slice(2)]);
    await h.drained(1);
    expect(await (await h.queue.getJob(jobId))?.getState()).toBe('completed');

    const lines = await h.pool.query<{ device_id: string; n: number }>(
      'SELECT device_id, count(*)::int AS n FROM line_events GROUP BY device_id',
    );
    expect(new Map(lines.rows.map((r) => [r.device_id, r.n]))).toEqual(new Map(neighbours.map((d) => [d, 1])));
    const { rows } = await h.pool.query(
      `SELECT job_id, message_id, device_id, status, reason, payload,
              (extract(epoch from received_at) * 1000)::float8 AS received_at FROM dead_letters`,
    );
    expect(rows).toEqual([
      {
        job_id: jobId,
        message_id: 'bad-seconds-1',
        device_id: offender,
        status: 'open',
        reason: 'messages[2].entries[0].ts 1733150000 looks like seconds: send milliseconds',
        payload: bad,
        received_at: NOW,
      },
    ]);

    // A redelivered job neither duplicates the dead letter nor the neighbours' reports.
    await h.enqueue([...good, bad]);
    await h.drained(2);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM dead_letters')).rows[0].n).toBe(1);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM line_events')).rows[0].n).toBe(5);
  });

  it('keeps a message jsonb cannot store (NUL) visible as text, and processes the rest', async () => {
    h = await createHarness('dl_nul');
    const dev = await h.addDevice();
    await h.start();
    const bad = { ...telemetry(dev, '{"fw":"x"}', NOW), entries: [{ values: { fw: 'a\u0000b' } }] } as IngestMessage;
    await h.enqueue([bad, telemetry(dev, "{'1':'true'}", NOW)]);
    await h.drained(1);
    expect((await h.pool.query('SELECT count(*)::int AS n FROM line_events')).rows[0].n).toBe(1);
    const { rows } = await h.pool.query('SELECT reason, payload FROM dead_letters');
    expect(rows[0].reason).toMatch(/NUL character/);
    expect(rows[0].payload.unstorableJson).toContain(bad.id);
  });

  it('dead-letters a job of an unknown contract version whole, and does not retry it', async () => {
    h = await createHarness('dl_version');
    const dev = await h.addDevice();
    await h.start();
    const job = await h.queue.add(INGEST_JOB, { v: 99, messages: [telemetry(dev, "{'1':'true'}", NOW)] });
    await h.drained(1);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade ?? 0).toBeLessThanOrEqual(1);
    const { rows } = await h.pool.query('SELECT job_id, message_id, device_id, reason FROM dead_letters');
    expect(rows).toEqual([{ job_id: job.id, message_id: '', device_id: null, reason: 'v: expected 1, got 99' }]);
  });
});
