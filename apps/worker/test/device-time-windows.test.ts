/**
 * Devices that stamp their reports (`{"ts","values"}`): unknown windows come from gaps in the
 * device's own timestamps, not from receive-time offline periods; a replayed buffer that
 * covers a gap removes the window and places the edge exactly.
 */
import { newMessageId } from '@spms/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness, telemetry } from './test-support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const entry = (ts: number, values: Record<string, unknown>) => JSON.stringify({ ts, values });
const batch = (entries: string[]) => `[${entries.join(',')}]`;
/** The gateway's record of a (re)connect: the device's session broke. */
const connect = (deviceId: string) => ({
  kind: 'connectivity' as const,
  event: 'connect' as const,
  id: newMessageId(),
  deviceId,
  receivedAt: Date.now(),
  transport: 'mqtt' as const,
});
const pause = () => new Promise((r) => setTimeout(r, 5)); // distinct receive ms

async function outagesOf(harness: Harness, dev: string) {
  const ms = (c: string) => `(extract(epoch from ${c}) * 1000)::float8`;
  const { rows } = await harness.pool.query(
    `SELECT line, ${ms('started_at')} AS s, ${ms('start_window_from')} AS wf, ${ms('start_window_to')} AS wt,
            ${ms('ended_at')} AS e
       FROM outages WHERE device_id = $1 ORDER BY started_at`,
    [dev],
  );
  return rows.map((r) => ({ line: r.line, s: r.s, wf: r.wf, wt: r.wt, e: r.e }));
}

describe('device-time unknown windows', () => {
  it('a line lost during a device-time gap carries a start window spanning the gap', async () => {
    h = await createHarness('devtime_gap');
    const dev = await h.addDevice({ timeoutSec: 60 });
    await h.start();
    const T = Date.now() - 3_600_000; // device time an hour ago; everything is received now
    await h.enqueue([
      telemetry(dev, batch([entry(T, { 2: true, V: 230 }), entry(T + 30_000, { V: 231 })]), Date.now()),
    ]);
    // 10 minutes of device-time silence (the device was offline and reconnected), then line 2 is seen off.
    await pause();
    await h.enqueue([connect(dev)]);
    await pause();
    await h.enqueue([telemetry(dev, entry(T + 630_000, { 2: false, V: 230 }), Date.now())]);
    await h.drained(3);
    expect(await outagesOf(h, dev)).toEqual([{ line: 2, s: T + 630_000, wf: T + 30_000, wt: T + 630_000, e: null }]);
    // Receive time had no silence: no offline period, yet the window exists (device time).
    const periods = await h.pool.query('SELECT 1 FROM device_offline_periods WHERE device_id = $1', [dev]);
    expect(periods.rows).toHaveLength(0);
  });

  it('a session break committed after the report that follows it still gives the window (concurrent jobs)', async () => {
    // Two jobs processed by concurrent transactions: the one holding the report after the
    // reconnect took the device lock first, so it could not see the reconnect. The order is
    // forced here by draining between them.
    h = await createHarness('devtime_break_late');
    const dev = await h.addDevice({ timeoutSec: 60 });
    await h.start();
    const T = Date.now() - 3_600_000;
    await h.enqueue([
      telemetry(dev, batch([entry(T, { 2: true, V: 230 }), entry(T + 30_000, { V: 231 })]), Date.now()),
    ]);
    await pause();
    const reconnect = connect(dev); // received now, processed last
    await pause();
    await h.enqueue([telemetry(dev, entry(T + 630_000, { 2: false, V: 230 }), Date.now())]);
    await h.drained(2);
    expect(await outagesOf(h, dev)).toEqual([{ line: 2, s: T + 630_000, wf: null, wt: null, e: null }]);
    await h.enqueue([reconnect]);
    await h.drained(3);
    expect(await outagesOf(h, dev)).toEqual([{ line: 2, s: T + 630_000, wf: T + 30_000, wt: T + 630_000, e: null }]);
  });

  it('a device-time gap received within one unbroken session is no window (the device was reachable)', async () => {
    h = await createHarness('devtime_session');
    const dev = await h.addDevice({ timeoutSec: 60 });
    await h.start();
    const T = Date.now() - 3_600_000;
    await h.enqueue([
      telemetry(dev, batch([entry(T, { 2: true, V: 230 }), entry(T + 30_000, { V: 231 })]), Date.now()),
    ]);
    await pause();
    await h.enqueue([telemetry(dev, entry(T + 630_000, { 2: false, V: 230 }), Date.now())]);
    await h.drained(2);
    expect(await outagesOf(h, dev)).toEqual([{ line: 2, s: T + 630_000, wf: null, wt: null, e: null }]);
  });

  it('a gap shorter than the timeout is no window: the start is the first report seen off', async () => {
    h = await createHarness('devtime_short');
    const dev = await h.addDevice({ timeoutSec: 60 });
    await h.start();
    const T = Date.now() - 3_600_000;
    await h.enqueue([telemetry(dev, entry(T, { 2: true, V: 230 }), Date.now())]);
    await h.enqueue([telemetry(dev, entry(T + 59_999, { 2: false }), Date.now())]);
    await h.drained(2);
    expect(await outagesOf(h, dev)).toEqual([{ line: 2, s: T + 59_999, wf: null, wt: null, e: null }]);
  });

  it('a replayed buffer covering the gap removes the window and gives the exact start', async () => {
    h = await createHarness('devtime_replay');
    const dev = await h.addDevice({ timeoutSec: 60 });
    await h.start();
    const T = Date.now() - 3_600_000;
    await h.enqueue([
      telemetry(dev, batch([entry(T, { 2: true, V: 230 }), entry(T + 30_000, { V: 231 })]), Date.now()),
    ]);
    await pause();
    await h.enqueue([connect(dev)]);
    await pause();
    await h.enqueue([telemetry(dev, entry(T + 630_000, { 2: false, V: 230 }), Date.now())]);
    await h.drained(3);
    expect((await outagesOf(h, dev))[0]?.wf).toBe(T + 30_000);
    // The device then sends what it buffered while offline: a sample every 30 s, line 2 lost at T+300 s.
    const buffered: string[] = [];
    for (let t = T + 60_000; t < T + 630_000; t += 30_000)
      buffered.push(entry(t, t === T + 300_000 ? { 2: false, V: 229 } : { V: 229 }));
    await h.enqueue([telemetry(dev, batch(buffered), Date.now())]);
    await h.drained(4);
    expect(await outagesOf(h, dev)).toEqual([{ line: 2, s: T + 300_000, wf: null, wt: null, e: null }]);
  });

  it('readings that arrive late and fill a gap recompute the outage after it (history posted out of order)', async () => {
    // Ids not from the gateway (as history imports use): a gap of at least the timeout is
    // unknown time unless readings fill it.
    h = await createHarness('devtime_fill');
    const dev = await h.addDevice({ timeoutSec: 60 });
    await h.start();
    const T = Date.now() - 24 * 3_600_000;
    const M = 60_000;
    let n = 0;
    const part = (from: number, to: number, lines: Record<number, Record<string, boolean>> = {}) => {
      const entries: string[] = [];
      for (let t = from; t < to; t += 30_000) entries.push(entry(t, { V: 230, ...(lines[t] ?? {}) }));
      return telemetry(dev, batch(entries), Date.now(), `hist-${++n}`);
    };
    await h.enqueue([part(T, T + 120 * M, { [T]: { 1: true }, [T + 120 * M - 30_000]: { 1: false } })]);
    await h.drained(1);
    await h.enqueue([part(T + 160 * M, T + 200 * M, { [T + 180 * M]: { 1: true } })]);
    await h.drained(2);
    // Silent from 120 to 160 min: the outage is known only up to its last report before the
    // unknown window (its end lies somewhere in the window).
    const before = await outagesOf(h, dev);
    expect(before).toHaveLength(1);
    expect(before[0]?.e).toBeLessThan(T + 180 * M);
    // The missing 40 minutes arrive last: the line was off all along, nothing is unknown.
    await h.enqueue([part(T + 120 * M, T + 160 * M)]);
    await h.drained(3);
    expect(await outagesOf(h, dev)).toEqual([{ line: 1, s: T + 120 * M - 30_000, wf: null, wt: null, e: T + 180 * M }]);
    const { rows } = await h.pool.query<{ u: number }>(
      'SELECT unknown_ms::float8 AS u FROM outages WHERE device_id = $1',
      [dev],
    );
    expect(rows).toEqual([{ u: 0 }]);
  });
});
