/** Voltage episodes and rejected readings; HTTP firmware snapshots including duplicates. */
import type { IngestMessage } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const BASE = Date.UTC(2026, 10, 20, 4, 0, 0);

const episodes = async (h: Harness, dev: string) =>
  (
    await h.pool.query(
      `SELECT kind, (extract(epoch from started_at) * 1000)::float8 - $2 AS s, (extract(epoch from ended_at) * 1000)::float8 - $2 AS e
         FROM voltage_episodes WHERE device_id = $1 ORDER BY started_at`,
      [dev, BASE],
    )
  ).rows;

describe('voltage', () => {
  it('records an under-voltage episode with hysteresis, rejects impossible readings, and is order-independent', async () => {
    h = await createHarness('voltage');
    const inOrder = await h.addDevice();
    const shuffled = await h.addDevice();
    await h.start();
    const seq: [number, number][] = [
      [0, 230],
      [30, 210], // below 216.2: under-voltage opens
      [60, 217], // back above min but not above min + hysteresis (218.2): still under
      [90, 219], // closes
      [100, 512.5], // impossible for a 230 V input: rejected
      [120, 231],
      [150, 250], // over 243.8: over-voltage opens
    ];
    const make = (dev: string) =>
      seq.map(([t, v], i): IngestMessage => {
        const m = telemetry(dev, `{'V':${v}}`, BASE + 1_000_000 + i, `v${i}`);
        if (m.kind === 'telemetry') for (const e of m.entries) e.ts = BASE + t * 1000;
        return m;
      });
    for (const m of make(inOrder)) await h.enqueue([m]);
    const b = make(shuffled);
    for (const i of [3, 6, 0, 2, 5, 1, 4, 1]) await h.enqueue([b[i] as IngestMessage]);
    await h.drained(seq.length + 8);
    const want = [
      { kind: 'under', s: 30_000, e: 90_000 },
      { kind: 'over', s: 150_000, e: null },
    ];
    expect(await episodes(h, inOrder)).toEqual(want);
    expect(await episodes(h, shuffled)).toEqual(want);
    const rejected = await h.pool.query('SELECT key, value, reason FROM rejected_readings WHERE device_id = $1', [
      inOrder,
    ]);
    expect(rejected.rows).toEqual([{ key: 'V', value: 512.5, reason: 'outside the physical range 0..400 V' }]);
    const state = await h.pool.query('SELECT volts, volts_level FROM device_state WHERE device_id = $1', [shuffled]);
    expect(state.rows[0]).toEqual({ volts: 250, volts_level: 'over' });
  });
});

describe('HTTP firmware snapshots', () => {
  it('a duplicate snapshot (new message id, later receive time, same content) creates no second outage or event', async () => {
    h = await createHarness('http');
    const dev = await h.addDevice();
    await h.start();
    const ok = '{"V":229.8,"1":true,"2":true,"3":true,"4":true,"5":true,"6":true,"7":true,"8":true}';
    const down = '{"V":0.0,"1":false,"2":true,"3":true,"4":true,"5":true,"6":true,"7":true,"8":false}';
    const http = (body: string, t: number): IngestMessage => ({
      ...telemetry(dev, body, BASE + t * 1000),
      transport: 'http',
    });
    await h.enqueue([http(ok, 0)]);
    await h.enqueue([http(down, 60)]);
    await h.enqueue([http(down, 75)]); // the firmware retried: same body again
    await h.enqueue([http(ok, 600)]);
    await h.drained(4);
    expect((await h.outages(dev)).map((o) => [o.line, o.started_at - BASE, (o.ended_at ?? 0) - BASE])).toEqual([
      [1, 60_000, 600_000],
      [8, 60_000, 600_000],
    ]);
    // Opened/closed only: when the worker runs these jobs concurrently and takes a later one
    // first, the earlier one arrives late and its recomputation may also emit a correction
    // ('outage.changed'). Opened and closed must still come exactly once per outage.
    const ev = await h.pool.query(
      `SELECT type, count(*)::int AS n FROM domain_events
        WHERE device_id = $1 AND type IN ('outage.opened', 'outage.closed') GROUP BY type ORDER BY type`,
      [dev],
    );
    expect(ev.rows).toEqual([
      { type: 'outage.closed', n: 2 },
      { type: 'outage.opened', n: 2 },
    ]);
    // 0.0 V with the utility feed down is an interruption (reported by the lines), not under-voltage.
    expect(await episodes(h, dev)).toEqual([]);
    // CEB and the cabinet's own supply (MSAN) lost together: one whole-site event.
    const whole = await h.pool.query(
      'SELECT line, whole_site, utility_feed FROM outages WHERE device_id = $1 ORDER BY line',
      [dev],
    );
    expect(whole.rows).toEqual([
      { line: 1, whole_site: true, utility_feed: true },
      { line: 8, whole_site: true, utility_feed: false },
    ]);
  });
});
