/**
 * storm-gc.ts: one full collection after a connect storm, once connects quietened; never
 * during one, never without one. The collector's counting runs on fake timers with a counted
 * collect(); V8's real collection function is checked on a WeakRef; and a broker as shipped
 * (default STORM_GC_MIN_CONNECTS, 1,000) runs one collection after 1,000 real connects.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { exposeGc, QUIET_MS, startStormCollector } from './storm-gc.js';
import { connectPacket, type Harness, startHarness, until } from './test-support/harness.js';

describe('startStormCollector', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function collector(minConnects: number) {
    vi.useFakeTimers();
    const collected: number[] = [];
    const c = startStormCollector({
      minConnects,
      quietMs: 5000,
      tickMs: 1000,
      collect: () => {},
      onCollected: (r) => collected.push(r.connects),
    });
    const connects = (n: number) => {
      for (let i = 0; i < n; i++) c.noteConnect(true);
    };
    return { c, collected, connects };
  }

  it('collects once after a storm has been quiet for the whole window, and not again', () => {
    const { c, collected, connects } = collector(1000);
    connects(600);
    vi.advanceTimersByTime(1000);
    connects(500);
    vi.advanceTimersByTime(5000); // the second with the storm's last 500 is still in the window
    expect(collected).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(collected).toEqual([1100]);
    vi.advanceTimersByTime(60_000);
    expect(collected).toEqual([1100]);
    c.close();
  });

  it('does not collect while connects go on at 1 % of a storm a second or more', () => {
    const { c, collected, connects } = collector(1000);
    connects(1000);
    for (let s = 0; s < 30; s++) {
      connects(10); // 10 a second = 50 in 5 s: the limit itself, not below it
      vi.advanceTimersByTime(1000);
    }
    expect(collected).toEqual([]);
    connects(9); // the window now averages 9.8 a second
    vi.advanceTimersByTime(1000);
    expect(collected).toEqual([1000 + 300 + 9]);
    c.close();
  });

  it('needs a storm: minConnects accepted within a minute; steady churn below that never collects', () => {
    const { c, collected, connects } = collector(1000);
    connects(999);
    vi.advanceTimersByTime(61_000);
    connects(1); // the 999 are more than a minute old: no storm
    vi.advanceTimersByTime(10_000);
    expect(collected).toEqual([]);
    for (let s = 0; s < 600; s++) {
      connects(9); // 540 a minute, for ten minutes
      vi.advanceTimersByTime(1000);
    }
    expect(collected).toEqual([]);
    c.close();
  });

  it('counts refused CONNECTs against quiet: a storm that is being refused is not over', () => {
    const { c, collected, connects } = collector(1000);
    connects(1000);
    for (let s = 0; s < 20; s++) {
      for (let i = 0; i < 20; i++) c.noteConnect(false);
      vi.advanceTimersByTime(1000);
    }
    expect(collected).toEqual([]);
    vi.advanceTimersByTime(6000);
    expect(collected).toEqual([1000]);
    c.close();
  });

  it('a collection that throws is reported and does not stop the collector', () => {
    vi.useFakeTimers();
    const errors: unknown[] = [];
    let calls = 0;
    const c = startStormCollector({
      minConnects: 10,
      collect: () => {
        calls++;
        if (calls === 1) throw new Error('boom');
      },
      onError: (err) => errors.push(err),
    });
    // The default quiet time (QUIET_MS) and a second past it.
    for (let i = 0; i < 10; i++) c.noteConnect(true);
    vi.advanceTimersByTime(QUIET_MS + 1000);
    expect(calls).toBe(1);
    for (let i = 0; i < 10; i++) c.noteConnect(true);
    vi.advanceTimersByTime(QUIET_MS + 1000);
    expect(errors).toHaveLength(1);
    expect(calls).toBe(2);
    c.close();
  });

  it('is off with minConnects 0', () => {
    const { c, collected, connects } = collector(0);
    connects(100_000);
    vi.advanceTimersByTime(60_000);
    expect(collected).toEqual([]);
    c.close();
  });
});

it("exposeGc gives V8's full collection: an unreachable object's WeakRef is cleared", async () => {
  const gc = exposeGc();
  expect(typeof gc).toBe('function');
  let ref: WeakRef<object> | undefined;
  (() => {
    ref = new WeakRef({ big: new Array(1000).fill('x') });
  })();
  // A WeakRef keeps its target until the job that made it ends.
  await new Promise((r) => setImmediate(r));
  gc?.();
  expect(ref?.deref()).toBeUndefined();
});

describe('a broker as shipped (STORM_GC_MIN_CONNECTS 1,000)', () => {
  const N = 1000;
  let h: Harness;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    h = await startHarness('broker_storm_gc');
    for (let i = 0; i < N; i++)
      await h.addDevice(`${String(i).padStart(4, '0')}_GC`, { type: 'ACCESS_TOKEN', token: `storm-gc-${i}` });
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await h?.close();
  });

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : Number.NaN;
  }

  /** Connects as device i and resolves with the CONNACK's return code. */
  function connectDevice(i: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const sock = netConnect(h.gateway.mqttPort, '127.0.0.1', () => {
        sock.write(connectPacket(`gc-${i}`, `storm-gc-${i}`));
      });
      sockets.push(sock);
      sock.once('data', (d) => resolve(d[0] === 0x20 ? (d[3] ?? -1) : -1));
      sock.once('error', reject);
    });
  }

  it('runs one full collection once 1,000 connects have been quiet for 12 s', async () => {
    expect(await metric('spms_broker_storm_collections_total')).toBe(0);
    const codes = await Promise.all(Array.from({ length: N }, (_, i) => connectDevice(i)));
    expect(codes.filter((c) => c !== 0)).toEqual([]);
    // Just after the storm its connects are still within the quiet window.
    expect(await metric('spms_broker_storm_collections_total')).toBe(0);
    await until(async () => (await metric('spms_broker_storm_collections_total')) === 1, 30_000);
    expect(await metric('spms_broker_storm_collection_seconds_total')).toBeGreaterThan(0);
    // The connections stay up, and one storm is one collection.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await metric('spms_broker_storm_collections_total')).toBe(1);
    expect(await metric('spms_broker_connections')).toBe(N);
  }, 60_000);
});
