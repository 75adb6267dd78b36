/**
 * Fuzzing the HTTP device API over real HTTP: mutated firmware bodies, random content
 * types, methods, sub-paths and tokens, for a bounded time and count, while an honest
 * HTTP device keeps posting telemetry and must get 200 every time. The API runs in this
 * test process (measured in-process after a warm-up and a GC: process RSS and the live
 * heap; both include the fuzzer's own allocations, so the bounds are conservative). No
 * request may get a 500 or hang: bad input is a 4xx.
 *
 * FUZZ_SECONDS (default 20) and FUZZ_RUNS (default 3000) bound the run; FUZZ_SEED replays.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestApi, insertTokenDevice, type TestApi } from '../../apps/api/src/test-support/test-api.js';
import { FIRMWARE_PAYLOADS, httpRequestArb } from './support/mutations.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const HONEST = 'HTTP_FUZZ_HONEST_01';
const FUZZ = 'HTTP_FUZZ_DEVICE_02';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const memory = () => {
  gc();
  return process.memoryUsage();
};

let t: TestApi;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  // Unlimited per-device rate for the fuzz device, so its bodies reach the parsers.
  t = await createTestApi('fuzz_http', { DEVICE_MSG_RATE: '0' });
  app = t.app;
  await insertTokenDevice(app, '0910_MSAN', HONEST);
  await insertTokenDevice(app, '0911_MSAN', FUZZ);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(() => t?.close());

it(`survives ${SECONDS} s of mutated HTTP device-API input while an honest device gets 200`, async () => {
  let honestSent = 0;
  const honestFailures: number[] = [];
  let stop = false;
  const honestLoop = (async () => {
    for (let i = 0; !stop; i++) {
      honestSent++;
      const res = await fetch(`${base}/api/v1/${HONEST}/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: FIRMWARE_PAYLOADS[i % FIRMWARE_PAYLOADS.length],
      });
      await res.arrayBuffer();
      if (res.status !== 200) honestFailures.push(res.status);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const statuses = new Map<number, number>();
  const serverErrors: string[] = [];
  let runs = 0;
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  const fuzz = (seconds: number) =>
    fc.assert(
      fc.asyncProperty(httpRequestArb(FUZZ), async (r) => {
        runs++;
        const withBody = r.method !== 'GET';
        // An RPC long-poll waits 60 s by default: poll for 1 ms instead.
        const path = r.method === 'GET' && /^rpc(\?|$)/.test(r.path) ? 'rpc?timeout=1' : r.path;
        const res = await fetch(`${base}/api/v1/${encodeURIComponent(r.token)}/${path}`, {
          method: r.method,
          headers: r.contentType ? { 'content-type': r.contentType } : {},
          ...(withBody ? { body: r.body } : {}),
          // Nothing may hang: a request without an answer in 10 s fails the run.
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 500) serverErrors.push(`${r.method} ${path} → ${text.slice(0, 200)}`);
        return res.status !== 500;
      }),
      {
        numRuns: RUNS,
        interruptAfterTimeLimit: seconds * 1000,
        markInterruptAsFailure: false,
        ...(seed !== undefined ? { seed } : {}),
      },
    );
  // Warm-up: V8 grows its heap to a steady size first; the baseline is taken after it.
  await fuzz(Math.max(2, SECONDS / 4));
  const before = memory();
  await fuzz(SECONDS);
  stop = true;
  await honestLoop;
  const after = memory();
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const rssGrowthMiB = (after.rss - before.rss) / 1048576;
  const heapGrowthMiB = (after.heapUsed - before.heapUsed) / 1048576;
  console.info(
    `http fuzz: ${runs} requests in ~${SECONDS} s, statuses ${JSON.stringify(Object.fromEntries(statuses))}, test process RSS ${mib(before.rss)} → ${mib(after.rss)} MiB, live heap ${mib(before.heapUsed)} → ${mib(after.heapUsed)} MiB, honest ${honestSent - honestFailures.length}/${honestSent} got 200`,
  );
  expect(serverErrors).toEqual([]);
  expect(runs).toBeGreaterThan(10);
  expect(honestFailures).toEqual([]);
  expect(honestSent).toBeGreaterThan(10);
  expect(rssGrowthMiB).toBeLessThan(50);
  expect(heapGrowthMiB).toBeLessThan(50);
  expect((await fetch(`${base}/healthz`)).status).toBeLessThan(500);
}, 120_000);
