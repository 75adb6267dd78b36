/**
 * Fuzzing the HTTP device API over real HTTP: mutated firmware bodies, random content
 * types, methods, sub-paths and tokens, for a bounded time and count, while an honest
 * HTTP device keeps posting telemetry and must get 200 every time. The API is the built
 * app in a child process, so its RSS (read from /proc after a warm-up) is its own and not
 * the fuzzer's. No request may get a 500 or hang: bad input is a 4xx.
 *
 * FUZZ_SECONDS (default 20) and FUZZ_RUNS (default 3000) bound the run; FUZZ_SEED replays.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { credentialsKey } from '@spms/credentials';
import { createTestDatabase, createTestRedis, freePort, type TestDatabase, type TestRedis } from '@spms/testing';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AppProcess, createAppProcess, ensureBuilt, httpReady } from '../fault/test-support/app-process.js';
import { FIRMWARE_PAYLOADS, httpRequestArb } from './test-support/mutations.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 20);
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const HONEST = 'HTTP_FUZZ_HONEST_01';
const FUZZ = 'HTTP_FUZZ_DEVICE_02';
const PROFILE = '00000000-0000-4000-8000-000000000002';

const rssBytes = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : Number.NaN;
};

let db: TestDatabase;
let redis: TestRedis;
let api: AppProcess;
let base: string;

beforeAll(async () => {
  ensureBuilt(['api']);
  db = await createTestDatabase('fuzz_http');
  redis = createTestRedis('fuzz-http');
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  for (const [name, token] of [
    ['0910_MSAN', HONEST],
    ['0911_MSAN', FUZZ],
  ] as const) {
    const id = randomUUID();
    await sql.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
      id,
      name,
      PROFILE,
    ]);
    await sql.query(
      `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at) VALUES ($1, 'ACCESS_TOKEN', $2, now())`,
      [id, credentialsKey({ type: 'ACCESS_TOKEN', token })],
    );
  }
  await sql.end();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  api = createAppProcess(
    'api',
    {
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
      API_METRICS_PORT: '0',
      // Unlimited per-device rate for the fuzz device, so its bodies reach the parsers.
      DEVICE_MSG_RATE: '0',
    },
    httpReady(`${base}/healthz`),
  );
  await api.start();
});
afterAll(async () => {
  await api?.stop();
  await redis?.cleanup();
  await db?.drop();
});

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
  const pid = api.pid();
  const before = rssBytes(pid);
  const warmupRuns = runs;
  await fuzz(SECONDS);
  stop = true;
  await honestLoop;
  const after = rssBytes(pid);
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const rssGrowthMiB = (after - before) / 1048576;
  console.info(
    `http fuzz: ${runs - warmupRuns} requests in ~${SECONDS} s after ${warmupRuns} warm-up, statuses ${JSON.stringify(Object.fromEntries(statuses))}, API process RSS ${mib(before)} → ${mib(after)} MiB, honest ${honestSent - honestFailures.length}/${honestSent} got 200`,
  );
  expect(api.crashes()).toEqual([]);
  expect(serverErrors).toEqual([]);
  expect(runs).toBeGreaterThan(10);
  expect(honestFailures).toEqual([]);
  expect(honestSent).toBeGreaterThan(10);
  expect(rssGrowthMiB).toBeLessThan(50);
  expect((await fetch(`${base}/healthz`)).status).toBeLessThan(500);
}, 120_000);
