/** Device activity: inactivity within timeout + 1 s, connection loss at once, offline periods. */
import { DOMAIN_EVENTS_QUEUE } from '@spms/contracts';
import { newMessageId } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const state = async (h: Harness, dev: string) =>
  (
    await h.pool.query(
      `SELECT active, connection, (extract(epoch from inactive_since) * 1000)::float8 AS inactive_since
         FROM device_state WHERE device_id = $1`,
      [dev],
    )
  ).rows[0];

async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('device activity', () => {
  it('declares a silent device inactive after its timeout and before timeout + 1 s, and online again on activity', async () => {
    h = await createHarness('inactive');
    const dev = await h.addDevice({ timeoutSec: 2 });
    await h.start();
    const sent = Date.now();
    await h.enqueue([telemetry(dev, "{'V':229.5}", sent)]);
    await h.drained(1);
    expect((await state(h, dev)).active).toBe(true);
    const harness = h;
    await until(async () => (await state(harness, dev)).active === false, 4000);
    const seenAt = Date.now();
    // Not before the timeout, and detected within timeout + 1 s of the last activity.
    expect(seenAt - sent).toBeGreaterThanOrEqual(2000);
    expect(seenAt - sent).toBeLessThan(3000);
    const s = await state(h, dev);
    expect(Math.round(s.inactive_since)).toBe(sent + 2000);
    const periods = await h.pool.query(
      'SELECT (extract(epoch from started_at) * 1000)::float8 AS f, ended_at FROM device_offline_periods WHERE device_id = $1',
      [dev],
    );
    expect(periods.rows).toHaveLength(1);
    expect(Math.round(periods.rows[0].f)).toBe(sent);
    expect(periods.rows[0].ended_at).toBeNull();
    // It speaks again: online, period closed, one offline and one online event.
    await h.enqueue([telemetry(dev, "{'V':229.1}", Date.now())]);
    await h.drained(2);
    expect((await state(h, dev)).active).toBe(true);
    const closed = await h.pool.query('SELECT ended_at FROM device_offline_periods WHERE device_id = $1', [dev]);
    expect(closed.rows[0].ended_at).not.toBeNull();
    const events = await h.pool.query(`SELECT type FROM domain_events WHERE device_id = $1 ORDER BY created_at`, [dev]);
    expect(events.rows.map((r) => r.type)).toEqual(['device.offline', 'device.online']);
  });

  it('shows a lost TCP connection at once, before the device times out', async () => {
    h = await createHarness('connlost');
    const dev = await h.addDevice({ timeoutSec: 120 });
    await h.start();
    const t = Date.now();
    const base = { deviceId: dev, transport: 'mqtt' as const };
    await h.enqueue([{ ...base, kind: 'connectivity', event: 'connect', id: newMessageId(), receivedAt: t }]);
    await h.drained(1);
    expect(await state(h, dev)).toMatchObject({ active: true, connection: 'connected' });
    await h.enqueue([
      { ...base, kind: 'connectivity', event: 'connection_lost', id: newMessageId(), receivedAt: t + 50 },
    ]);
    await h.drained(2);
    expect(await state(h, dev)).toMatchObject({ active: true, connection: 'lost' });
    const events = await h.pool.query(`SELECT type FROM domain_events WHERE device_id = $1`, [dev]);
    expect(events.rows.map((r) => r.type)).toEqual(['device.connection_lost']);
    // Not a job for the alerts, which act on none of it (QUEUED_EVENT_TYPES): in a storm every
    // device's connection comes and goes. A queued type published in the same way is a job.
    await h.enqueue([telemetry(dev, "{'3':'true'}", t + 60), telemetry(dev, "{'3':'false'}", t + 70)]);
    await h.drained(3);
    const { Queue } = await import('bullmq');
    const q = new Queue(DOMAIN_EVENTS_QUEUE, { connection: { url: h.redis.url }, prefix: h.redis.prefix });
    const jobs = await q.getJobs(['waiting', 'delayed', 'active', 'completed']);
    await q.close();
    expect(jobs.map((j) => j.name)).toEqual(['outage.opened']);
  });

  it('marks an open outage sustained once it passes the momentary threshold, with one event', async () => {
    h = await createHarness('sustained');
    const dev = await h.addDevice({ momentarySec: 1 });
    await h.start();
    const t = Date.now();
    await h.enqueue([telemetry(dev, "{'5':'true'}", t - 500), telemetry(dev, "{'5':'false'}", t)]);
    await h.drained(1);
    expect((await h.outages(dev))[0]?.class).toBe('pending');
    const harness = h;
    await until(async () => (await harness.outages(dev))[0]?.class === 'sustained', 9000);
    const ev = await h.pool.query(`SELECT type FROM domain_events WHERE device_id = $1 ORDER BY created_at`, [dev]);
    expect(ev.rows.map((r) => r.type)).toEqual(['outage.opened', 'outage.sustained']);
  });
});
