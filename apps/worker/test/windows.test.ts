/** Offline periods feed the engine as unknown windows; client attributes are stored. */
import { newMessageId } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('offline periods as unknown windows', () => {
  it('an outage that ends while the device was offline gets an end window, not a made-up end time', async () => {
    h = await createHarness('windows');
    const dev = await h.addDevice({ timeoutSec: 1 });
    await h.start();
    const t0 = Date.now();
    await h.enqueue([telemetry(dev, "{'2':'true'}", t0 - 200), telemetry(dev, "{'2':'false'}", t0)]);
    await h.drained(1);
    const harness = h;
    await until(async () => {
      const r = await harness.pool.query('SELECT active FROM device_state WHERE device_id = $1', [dev]);
      return r.rows[0]?.active === false;
    }, 4000);
    // Back after the silence: the line is powered again; we do not know when it came back.
    const t1 = Date.now();
    await h.enqueue([telemetry(dev, "{'2':'true'}", t1)]);
    await h.drained(2);
    const { rows } = await h.pool.query(
      `SELECT (extract(epoch from started_at) * 1000)::float8 AS s, (extract(epoch from ended_at) * 1000)::float8 AS e,
              (extract(epoch from end_window_from) * 1000)::float8 AS wf, (extract(epoch from end_window_to) * 1000)::float8 AS wt
         FROM outages WHERE device_id = $1`,
      [dev],
    );
    expect(rows).toHaveLength(1);
    const o = rows[0];
    expect(Math.round(o.s)).toBe(t0);
    // Last seen unpowered at t0 (its last activity, where the unknown window starts); powered again at t1.
    expect(Math.round(o.e)).toBe(t0);
    expect(Math.round(o.wf)).toBe(t0);
    expect(Math.round(o.wt)).toBe(t1);
    const periods = await h.pool.query('SELECT ended_at FROM device_offline_periods WHERE device_id = $1', [dev]);
    expect(periods.rows).toHaveLength(1);
    expect(periods.rows[0].ended_at).not.toBeNull();
  });
});

describe('client attributes', () => {
  it('stores attributes published by the device, newest receive time per key', async () => {
    h = await createHarness('attrs');
    const dev = await h.addDevice();
    await h.start();
    const t = Date.now();
    const attrs = (values: Record<string, string | number>, at: number) => ({
      kind: 'attributes' as const,
      id: newMessageId(),
      deviceId: dev,
      receivedAt: at,
      transport: 'mqtt' as const,
      values,
    });
    await h.enqueue([attrs({ fw_version: '1.2.0', rssi: -71 }, t), attrs({ fw_version: '1.3.0' }, t + 10)]);
    await h.enqueue([attrs({ fw_version: '1.1.0' }, t - 1000)]); // older, arrives later: ignored
    await h.drained(2);
    const { rows } = await h.pool.query(
      `SELECT key, value FROM device_attributes WHERE device_id = $1 AND scope = 'client' ORDER BY key`,
      [dev],
    );
    expect(rows).toEqual([
      { key: 'fw_version', value: '1.3.0' },
      { key: 'rssi', value: -71 },
    ]);
  });
});
