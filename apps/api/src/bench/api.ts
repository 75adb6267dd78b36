#!/usr/bin/env node
/**
 * Read-side benchmark against a fresh database (dropped at the end), loopback only.
 * Seeds BENCH_DEVICES devices × 8 lines with a year of outage history generated in SQL
 * (BENCH_OUTAGES_PER_LINE a year, ~30 % momentary, 1 % of lines with an open outage, two
 * offline periods per device), then measures over real HTTP (the clients in a worker thread,
 * bench/load.ts, so they do not share the API's event loop):
 *   1. GET /api/status with BENCH_CLIENTS concurrent keep-alive clients for BENCH_SECONDS
 *      (the default 1 s cache on), plus the uncached cost (one client, cache off); the same
 *      for GET /api/status/compact, and its delta (?since= a cursor taken before 100 devices
 *      had an event). BENCH_STATUS_FULL=0 skips the old full /api/status path; the compact
 *      status is measured from each of BENCH_STATUS_FROM (default "compute,snapshot": the view
 *      computed per read, then read from the worker-maintained device_status_rows), the snapshot
 *      with each of BENCH_STATUS_ENCODERS (default "rows,packed": STATUS_ENCODER, how the API
 *      reads the rows; the computed view with the first), after a check that both encoders give
 *      the same answer;
 *   2. a one-year reliability report by region: sequential, then BENCH_REPORT_CLIENTS at once,
 *      from raw outages, the day rollups and the group rollups side by side (bench/reports.ts;
 *      BENCH_REPORTS_FROM=raw,day,rollup; BENCH_REPORTS=0 skips it).
 *
 *   npm run bench:api
 *   BENCH_DEVICES=10000 BENCH_OUTAGES_PER_LINE=12 BENCH_CLIENTS=20 BENCH_SECONDS=10 npm run bench:api
 *   BENCH_KEEP_DB=1 …, then BENCH_REUSE_DB=spms_bench_api_xxxxxxxx …: seed once, measure again
 *   BENCH_WARMUP_SECONDS=5: uncounted load before the first measured one of each app
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { applyMigrations, createPool, migrationsDir, type Pool } from '@spms/db';
import { createLogger } from '@spms/log';
import { Redis } from 'ioredis';
import { buildApp } from '../app.js';
import { loadApiConfig } from '../config.js';
import { loadCompactSnapshot, type StatusEncoder } from '../routes/status/status-compact.js';
import { type LoadResult, load as loadFromWorker } from './load.js';
import { benchReports } from './reports.js';

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const DEVICES = env('BENCH_DEVICES', 10_000);
const PER_LINE = env('BENCH_OUTAGES_PER_LINE', 12);
const CLIENTS = env('BENCH_CLIENTS', 20);
const SECONDS = Math.min(env('BENCH_SECONDS', 10), 120);
const STATUS_FULL = process.env.BENCH_STATUS_FULL !== '0';
const STATUS_FROM = (process.env.BENCH_STATUS_FROM ?? 'compute,snapshot').split(',');
const STATUS_ENCODERS = (process.env.BENCH_STATUS_ENCODERS ?? 'rows,packed').split(',');
const REPORTS = process.env.BENCH_REPORTS !== '0';
/** Uncounted load before the first measured one of each freshly started app (bench/load.ts). */
const WARMUP_S = env('BENCH_WARMUP_SECONDS', 5);
const REPORT_RUNS = env('BENCH_REPORT_RUNS', 5);
const REPORT_CLIENTS = env('BENCH_REPORT_CLIENTS', 4);
const SERVER = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = randomBytes(24).toString('hex');
// BENCH_REUSE_DB=<name>: measure a database an earlier BENCH_KEEP_DB=1 run seeded (migrated to
// the current schema first; kept afterwards): seeding 10,000 devices and building their
// rollups takes minutes on a loaded machine.
const REUSE = process.env.BENCH_REUSE_DB;
if (REUSE && !/^spms_bench_api_[0-9a-f]{8}$/.test(REUSE))
  throw new Error('BENCH_REUSE_DB: a spms_bench_api_… database');
const dbName = REUSE ?? `spms_bench_api_${randomBytes(4).toString('hex')}`;
const dbUrl = (() => {
  const u = new URL(SERVER);
  u.pathname = `/${dbName}`;
  return u.toString();
})();

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function seed(pool: Pool): Promise<void> {
  const t0 = Date.now();
  // A day's inactivity timeout: the seeded states hold for the whole run (else the answers,
  // and their ETags, change while devices time out one by one).
  await pool.query(
    `INSERT INTO device_profiles (id, name, inactivity_timeout_sec, updated_at) VALUES (gen_random_uuid(), 'bench', 86400, now())`,
  );
  // Devices exist for the whole year; 25 regions, 10 customers.
  await pool.query(
    `INSERT INTO devices (id, name, region, customer, latitude, longitude, profile_id, created_at, updated_at)
     SELECT gen_random_uuid(), lpad(i::text, 5, '0') || '_MSAN', 'Region ' || (i % 25), 'Customer ' || (i % 10),
            round((6 + random() * 3.8)::numeric, 6)::float8, round((79.7 + random() * 2.1)::numeric, 6)::float8,
            (SELECT id FROM device_profiles WHERE name = 'bench'), now() - interval '400 days', now()
       FROM generate_series(1, $1) i`,
    [DEVICES],
  );
  await pool.query(
    `INSERT INTO device_lines (device_id, number, label)
     SELECT d.id, n, CASE n WHEN 1 THEN 'CEB' WHEN 8 THEN 'MSAN' ELSE 'TP ' || n END FROM devices d, generate_series(1, 8) n`,
  );
  // 95 % active, a few with a lost connection.
  await pool.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at, inactive_since, volts, volts_at, volts_level)
     SELECT id, r > 0.05, CASE WHEN r < 0.02 THEN 'lost' ELSE 'connected' END,
            CASE WHEN r > 0.05 THEN now() - r * interval '60 seconds' ELSE now() - interval '1 hour' END,
            CASE WHEN r > 0.05 THEN NULL ELSE now() - interval '58 minutes' END, round((225 + r * 10)::numeric, 1),
            CASE WHEN r > 0.05 THEN now() - r * interval '60 seconds' ELSE now() - interval '1 hour' END, 'normal'
       FROM (SELECT id, random() AS r FROM devices) d`,
  );
  await pool.query(
    `INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
     SELECT device_id, number, random() > 0.01, now() - interval '3 hours', now(), 'm' FROM device_lines`,
  );
  // A year of outages per line, spread evenly with jitter; durations: 30 % momentary (30 s-4 min), else 5 min-4 h.
  await pool.query(
    `INSERT INTO outages (device_id, line, started_at, ended_at, duration_ms, class, utility_feed, start_msg_id)
     SELECT device_id, number, s, s + dur, (extract(epoch FROM dur) * 1000)::bigint,
            CASE WHEN dur < interval '5 minutes' THEN 'momentary' ELSE 'sustained' END, number = 1, 'b' || k
       FROM (SELECT dl.device_id, dl.number, k,
                    now() - interval '365 days' + (k - 1 + random()) * (interval '365 days' / $1) AS s,
                    CASE WHEN random() < 0.3 THEN interval '30 seconds' + random() * interval '210 seconds'
                         ELSE interval '5 minutes' + random() * interval '235 minutes' END AS dur
               FROM device_lines dl, generate_series(1, $1) k) x
      WHERE s + dur < now()`,
    [PER_LINE],
  );
  await pool.query(
    `INSERT INTO outages (device_id, line, started_at, class, start_msg_id)
     SELECT device_id, line, now() - interval '20 minutes', 'sustained', 'open' FROM line_state WHERE NOT powered`,
  );
  await pool.query(
    `INSERT INTO device_offline_periods (device_id, started_at, ended_at)
     SELECT id, s, s + interval '2 hours'
       FROM devices, generate_series(1, 2) k, LATERAL (SELECT now() - k * interval '150 days' + random() * interval '10 days' AS s) x`,
  );
  // The report rollups as the worker keeps them: the outage triggers marked every line dirty
  // (a report would read raw rows meanwhile); one rebuild computes the day rows, the
  // refresher's group step the sums per region, customer and day.
  const tr = Date.now();
  await pool.query('SELECT outage_rollups_rebuild(outage_rollup_zone())');
  await pool.query('TRUNCATE outage_rollup_dirty');
  await pool.query('SELECT outage_group_rollups_refresh_dirty()');
  console.log(`report rollups built in ${((Date.now() - tr) / 1000).toFixed(1)} s`);
  // The fleet view's rows, as the migration fills them for an existing fleet.
  const t1 = Date.now();
  await pool.query('SELECT status_rows_refresh(ARRAY(SELECT id FROM devices))');
  console.log(`device_status_rows for ${DEVICES} devices filled in ${Date.now() - t1} ms`);
  await pool.query('ANALYZE');
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM outages');
  console.log(
    `seeded ${DEVICES} devices × 8 lines, ${rows[0]?.n} outages in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
}

let reported = false;

/** One GET (the cold answer, probes): the body is read but not decompressed. */
function get(url: string, agent: Agent, headers: Record<string, string>): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${KEY}`, ...headers } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The load from a worker thread (bench/load.ts): the clients do not share the API's event loop. */
async function load(
  url: string,
  clients: number,
  seconds: number,
  headers: Record<string, string>,
  warmupMs?: number,
): Promise<LoadResult> {
  const r = await loadFromWorker(url, clients, seconds, { authorization: `Bearer ${KEY}`, ...headers }, warmupMs);
  if (r.firstError && !reported) {
    reported = true;
    console.log(`first error: ${r.firstError}`);
  }
  return r;
}

function report(what: string, r: LoadResult): void {
  console.log(
    `${what}: ${r.lat.length} requests, ${(r.lat.length / r.elapsed).toFixed(0)} req/s, ` +
      `p50 ${fmt(pct(r.lat, 50))}, p99 ${fmt(pct(r.lat, 99))}, max ${fmt(r.lat[r.lat.length - 1] ?? NaN)}, ${(r.bytes / 1e6).toFixed(3)} MB/response, errors ${r.errors} (load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')})`,
  );
}

/** Compact delta: a cursor, then 100 devices get an event (and a voltage change), then the load. */
async function benchDelta(base: string, cacheMs: string, clients: number, seconds: number, pool: Pool): Promise<void> {
  const headers = { authorization: `Bearer ${KEY}` };
  const start = await fetch(`${base}/api/status/compact`, { headers });
  const { cursor, rows } = (await start.json()) as { cursor: string; rows: unknown[] };
  const etag = start.headers.get('etag') ?? '';
  const r304 = await load(`${base}/api/status/compact`, clients, Math.min(seconds, 3), { 'if-none-match': etag });
  report(`GET /api/status/compact If-None-Match (cache ${cacheMs} ms, ${clients} clients; 304 while unchanged)`, r304);
  // As the worker writes it: state, the view's rows, then the events, in one transaction.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows: picked } = await client.query<{ id: string }>(
      `WITH d AS (SELECT id FROM devices ORDER BY random() LIMIT 100)
       UPDATE device_state s SET volts = volts + 1 FROM d WHERE s.device_id = d.id RETURNING s.device_id::text AS id`,
    );
    const ids = picked.map((r) => r.id);
    await client.query('SELECT status_rows_refresh($1::uuid[])', [ids]);
    await client.query(
      `INSERT INTO domain_events (id, type, device_id, occurred_at, payload, seq)
       SELECT 'bench-' || gen_random_uuid(), 'voltage.episode_opened', d, now(), '{}', nextval('domain_events_seq')
         FROM unnest($1::uuid[]) d`,
      [ids],
    );
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  // Until the cache holds a snapshot with the events (a cache period, plus its rebuild).
  const url = `${base}/api/status/compact?since=${encodeURIComponent(cursor)}`;
  let probe: { changed?: unknown[] } = {};
  for (let i = 0; i < 50 && !probe.changed?.length; i++) {
    await new Promise((r) => setTimeout(r, 200));
    probe = (await (await fetch(url, { headers })).json()) as { changed?: unknown[] };
  }
  const r = await load(url, clients, seconds, { 'accept-encoding': 'identity' });
  report(
    `GET /api/status/compact?since= (cache ${cacheMs} ms, ${clients} clients, ${seconds} s, ${probe.changed?.length} of ${rows.length} devices changed)`,
    r,
  );
}

async function main(): Promise<void> {
  const adminPool = createPool(SERVER, { max: 1 });
  if (!REUSE) await adminPool.query(`CREATE DATABASE ${dbName}`);
  const pool = createPool(dbUrl, { max: 4 });
  try {
    await applyMigrations(pool, migrationsDir);
    if (REUSE) console.log(`reusing database ${dbName} (seeded earlier)`);
    else await seed(pool);
    if (process.env.BENCH_KEEP_DB) {
      // Profiling aid: keep the seeded database (drop it yourself) and skip the load.
      console.log(`kept database ${dbUrl}`);
      return;
    }
    console.log(
      `conditions: ${cpus().length} cores (shared), load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, Node ${process.version}, PostgreSQL on loopback`,
    );
    if (STATUS_ENCODERS.length > 1 && STATUS_FROM.includes('snapshot')) {
      // The same answer whichever way the rows are read (generatedAt aside).
      const facts = async (encoder: string) => {
        const t0 = performance.now();
        const snap = await loadCompactSnapshot(pool, null, 'snapshot', encoder as StatusEncoder);
        const ms = performance.now() - t0;
        return { ms, json: JSON.stringify({ ...snap, generatedAt: 0 }) };
      };
      const answers: { ms: number; json: string }[] = [];
      for (const encoder of STATUS_ENCODERS) answers.push(await facts(encoder));
      console.log(
        `same compact snapshot from ${STATUS_ENCODERS.join(' and ')}: ${answers.every((a) => a.json === answers[0]?.json) ? 'yes' : 'NO'} (read and encoded once each: ${answers.map((a) => fmt(a.ms)).join(', ')})`,
      );
    }
    for (const cacheMs of ['1000', '0'])
      for (const [source, encoder] of STATUS_FROM.flatMap((from) =>
        (from === 'snapshot' ? STATUS_ENCODERS : STATUS_ENCODERS.slice(0, 1)).map((e) => [from, e] as const),
      )) {
        const app = await buildApp(
          loadApiConfig({
            DATABASE_URL: dbUrl,
            REDIS_URL,
            REDIS_PREFIX: `spmsbench:${dbName}`,
            LOG_LEVEL: 'warn',
            SPMS_ADMIN_API_KEY: KEY,
            STATUS_CACHE_MS: cacheMs,
            STATUS_FROM: source,
            STATUS_ENCODER: encoder,
            API_RATE_LIMIT_MAX: '0',
            API_RATE_LIMIT_PER_IP_MAX: '0',
          }),
          { logger: createLogger({ level: 'warn', name: 'bench-api' }) },
        );
        const base = await app.listen({ host: '127.0.0.1', port: 0 });
        console.log(
          `-- compact status from ${source} (STATUS_FROM=${source}, STATUS_ENCODER=${encoder}), cache ${cacheMs} ms${cacheMs === '0' ? '' : `, after ${WARMUP_S} s of uncounted warm-up load`}`,
        );
        try {
          const clients = cacheMs === '0' ? 1 : CLIENTS;
          const seconds = cacheMs === '0' ? Math.min(SECONDS, 5) : SECONDS;
          const paths =
            STATUS_FULL && source === STATUS_FROM[0] && encoder === STATUS_ENCODERS[0]
              ? ['/api/status', '/api/status/compact']
              : ['/api/status/compact'];
          for (const path of paths) {
            // The first answer fills the cache (cold); the load then measures the steady state.
            const cold = performance.now();
            const first = await get(`${base}${path}`, new Agent(), {});
            console.log(
              `GET ${path} cold (cache ${cacheMs} ms): ${fmt(performance.now() - cold)}, ${first.status}, ${(first.bytes / 1e6).toFixed(2)} MB`,
            );
            for (const encoding of cacheMs === '0' ? ['identity'] : ['gzip', 'identity']) {
              // The first load on a freshly started app warms it up for WARMUP_S (bench/load.ts).
              const warm = path === paths[0] && encoding === 'gzip' ? WARMUP_S * 1000 : undefined;
              const r = await load(`${base}${path}`, clients, seconds, { 'accept-encoding': encoding }, warm);
              report(`GET ${path} (cache ${cacheMs} ms, ${encoding}, ${clients} clients, ${seconds} s)`, r);
            }
          }
          await benchDelta(base, cacheMs, clients, seconds, pool);
        } finally {
          await app.close();
        }
      }
    if (REPORTS)
      await benchReports({
        dbUrl,
        redisUrl: REDIS_URL,
        redisPrefix: `spmsbench:${dbName}`,
        key: KEY,
        runs: REPORT_RUNS,
        clients: REPORT_CLIENTS,
      });
  } finally {
    await pool.end();
    if (!process.env.BENCH_KEEP_DB && !REUSE) await adminPool.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await adminPool.end();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`spmsbench:${dbName}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
