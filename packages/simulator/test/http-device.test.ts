import { afterEach, describe, expect, it } from 'vitest';
import { createHttpDevice, type HttpDeviceOptions, SimStats } from '../src/index.js';
import { sleep, startHttp, waitFor } from './test-support/helpers.js';

const SNAPSHOT =
  /^\{"V":\d+\.\d,"1":(true|false),"2":(true|false),"3":(true|false),"4":(true|false),"5":(true|false),"6":(true|false),"7":(true|false),"8":(true|false)\}$/;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function setup(script: number[], extra: Partial<HttpDeviceOptions> = {}) {
  const srv = await startHttp(script);
  const stats = new SimStats();
  const d = createHttpDevice({
    name: '0003_MSAN',
    baseUrl: srv.url,
    token: 'tok-3',
    eventGapMs: 300,
    backoffMinMs: 60,
    backoffMaxMs: 240,
    periodicMs: 60_000,
    sampleMs: 60_000,
    stats,
    ...extra,
  });
  cleanup.push(
    () => d.stop(),
    () => srv.close(),
  );
  return { srv, d, stats };
}

describe('HTTP firmware device', () => {
  it('POSTs a strict-JSON snapshot to /api/v1/<token>/telemetry at boot', async () => {
    const { srv, d } = await setup([]);
    d.start();
    await waitFor(() => srv.hits.length === 1);
    const hit = srv.hits[0]!;
    expect(hit.url).toBe('/api/v1/tok-3/telemetry');
    expect(hit.contentType).toBe('application/json');
    expect(hit.body).toMatch(SNAPSHOT);
    expect(JSON.parse(hit.body)).toMatchObject({ 1: true, 2: true, 8: true });
  });

  it('retries the same body with doubling back-off until 200/204, then sends what changed meanwhile', async () => {
    const { srv, d, stats } = await setup([500, 503, 404, 204]);
    d.start();
    await waitFor(() => srv.hits.length === 1);
    d.setLine(1, false); // changes during back-off are sent after the retry succeeds
    await waitFor(() => srv.hits.length === 5, 5000, 'four tries and the change');
    await waitFor(() => stats.httpOk === 2, 2000, 'device saw the last answer');
    const bodies = srv.hits.map((h) => h.body);
    expect(new Set(bodies.slice(0, 4)).size).toBe(1); // byte-identical duplicates
    expect(JSON.parse(bodies[0]!)['1']).toBe(true);
    expect(JSON.parse(bodies[4]!)).toMatchObject({ V: 0, 1: false });
    expect(bodies[4]).toMatch(/^\{"V":0\.0,"1":false,/);
    const gaps = srv.hits.slice(1, 4).map((h, i) => h.at - srv.hits[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(55); // 60 ms
    expect(gaps[1]).toBeGreaterThanOrEqual(115); // 120 ms
    expect(gaps[2]).toBeGreaterThanOrEqual(230); // 240 ms cap
    expect(stats.httpFailed).toBe(3);
    expect(stats.httpOk).toBe(2);
  });

  it('sends at most one event per gap, carrying the latest state', async () => {
    const { srv, d } = await setup([]);
    d.start();
    await waitFor(() => srv.hits.length === 1);
    await sleep(320); // past the gap since boot
    d.setLine(2, false);
    await waitFor(() => srv.hits.length === 2);
    d.setLine(3, false);
    d.setLine(4, false);
    d.setLine(3, true);
    await waitFor(() => srv.hits.length === 3, 3000, 'coalesced event');
    await sleep(400);
    expect(srv.hits).toHaveLength(3);
    expect(srv.hits[2]!.at - srv.hits[1]!.at).toBeGreaterThanOrEqual(290);
    expect(JSON.parse(srv.hits[2]!.body)).toMatchObject({ 2: false, 3: true, 4: false });
  });

  it('reports a voltage move of 20 V or more, and nothing for smaller moves', async () => {
    const { srv, d } = await setup([], { sampleMs: 50 });
    d.start();
    await waitFor(() => srv.hits.length === 1);
    await sleep(320);
    d.setVoltage(220); // ~10 V below nominal 229.5
    await sleep(200);
    expect(srv.hits).toHaveLength(1);
    d.setVoltage(195);
    await waitFor(() => srv.hits.length === 2, 3000, 'voltage event');
    expect(JSON.parse(srv.hits[1]!.body).V).toBeLessThan(200);
  });

  it('in timestamped mode wraps the snapshot as {"ts","values"} from its clock', async () => {
    const { srv, d } = await setup([], {
      timestamped: true,
      clock: { speed: 1, now: () => 1_764_230_400_000, setTimeout },
    });
    d.start();
    await waitFor(() => srv.hits.length === 1);
    expect(srv.hits[0]!.body).toMatch(/^\{"ts":1764230400000,"values":\{"V":\d+\.\d,"1":true,.*"8":true\}\}$/);
  });
});
