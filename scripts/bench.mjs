#!/usr/bin/env node
// `npm run bench`: the benchmark suite. Builds, then runs every scenario against the built
// system (broker, worker, API as child processes; fresh databases and Redis prefixes; loopback
// only; bounded in time and count; everything removed afterwards) next to Mosquitto measured
// in the same run, and writes bench-results/latest.json + latest.md.
//
//   npm run bench                 # full suite, ~10–13 minutes on 2 cores
//   npm run bench -- --quick      # smoke run (small counts): ~2 minutes, plus ~5 for the multi-process scenarios on a busy 2-core machine
//   npm run bench -- --only ingest,latency,connections,storms,authstorm,api --no-build --no-profile --profile
//
// The multi-process scenarios (cluster, storm20k, scaling: broker processes under the
// launcher, scripts/supervise.mjs) run in --quick at small sizes; at full size they take
// longer than the rest of the suite together, so a full run includes them only when named:
//   npm run bench -- --only cluster,storm20k,scaling   # writes bench-results/<name>-latest.{md,json}
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: 'bench-results' },
    verbose: { type: 'boolean', default: false },
    // Size of the reconnect storm's fleet (default 300 quick, 10,000 full).
    'storm-devices': { type: 'string' },
  },
});
const quick = args.quick;
const only = args.only ? new Set(args.only.split(',')) : null;
const MULTI = ['cluster', 'storm20k', 'scaling'];
const want = (k) => (only ? only.has(k) : quick || !MULTI.includes(k));
const fdLimit = Number(spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim()) || null;
const say = (m) => console.log(`bench | ${m}`);

// Parameters: full = the goals' sizes where this machine allows them; quick = a smoke run.
const P = {
  ingest: quick
    ? { devices: 200, rate: 30_000, seconds: 5, inflight: 4 }
    : { devices: 1000, rate: 30_000, seconds: 15, inflight: 4 },
  latency: quick
    ? { probes: 2, seconds: 5, bgDevices: 200, bgRate: 500 }
    : { probes: 4, seconds: 20, bgDevices: 1000, bgRate: 2000 },
  // One broker process holds at most `ulimit -n` sockets; leave room for its own files.
  connections: quick
    ? { connections: 2000, ramp: 2000, holdSeconds: 2, workers: 1, fdLimit }
    : { connections: Math.min(50_000, (fdLimit ?? 20_000) - 600), ramp: 1500, holdSeconds: 5, workers: 2, fdLimit },
  storms: quick
    ? { devices: 300, outageDevices: 300, regions: 5, debounceMs: 2000, groupWindowMs: 2000, timeoutS: 30 }
    : { devices: 10_000, outageDevices: 2000, regions: 9, debounceMs: 3000, groupWindowMs: 3000, timeoutS: 60 },
  // Grid-restore storm with supplied-password MQTT Basic credentials, shipped defaults, 2 source addresses.
  authstorm: quick
    ? { devices: 300, timeoutS: 60, rebootMs: 5000, connackTimeoutMs: 30_000 }
    : { devices: 10_000, timeoutS: 180, rebootMs: 5000, connackTimeoutMs: 30_000 },
  // N broker processes under the launcher; full: enough processes for 50,000 under the open-files cap.
  cluster: quick
    ? {
        connections: 2000,
        processes: 2,
        rate: 1000,
        loaders: 2,
        holdS: 2,
        settleS: 10,
        again: true,
        againAfterS: 5,
        fdLimit,
      }
    : {
        connections: 50_000,
        processes: Math.ceil(50_000 / ((fdLimit ?? 20_000) - 1000)),
        rate: 1500,
        loaders: 4,
        holdS: 5,
        settleS: 30,
        again: true,
        againAfterS: 65,
        fdLimit,
      },
  // Grid-restore storm across broker processes, supplied passwords, shipped defaults, one source address.
  storm20k: quick
    ? {
        sizes: [150, 300],
        coldTimeoutS: 60,
        fillTimeoutS: 60,
        timeoutS: 60,
        rebootMs: 5000,
        connackTimeoutMs: 30_000,
        fdLimit,
      }
    : {
        sizes: [10_000, 20_000],
        coldTimeoutS: 180,
        fillTimeoutS: 900,
        timeoutS: 120,
        rebootMs: 5000,
        connackTimeoutMs: 30_000,
        fdLimit,
      },
  // 1…nproc broker processes, ingest and connect rate each.
  scaling: quick
    ? { ingest: { devices: 200, rate: 10_000, seconds: 5 }, connect: { connections: 1000, rate: 3000, loaders: 2 } }
    : {
        ingest: { devices: 1000, rate: 30_000, seconds: 15 },
        connect: { connections: 10_000, rate: 5000, loaders: 4 },
      },
  api: quick
    ? { BENCH_DEVICES: '1000', BENCH_SECONDS: '3', BENCH_REPORT_RUNS: '2', BENCH_REPORT_CLIENTS: '2' }
    : { BENCH_DEVICES: '10000', BENCH_SECONDS: '10', BENCH_REPORT_RUNS: '5', BENCH_REPORT_CLIENTS: '4' },
};

if (args['storm-devices']) P.storms.devices = P.authstorm.devices = Number(args['storm-devices']);
if (!args['no-build']) {
  say('building…');
  const b = spawnSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
  if (b.status !== 0) process.exit(b.status ?? 1);
}
const { startSystem, seedDevices } = await import('../bench/lib/system.mjs');
const { startMosquitto } = await import('../bench/lib/mosquitto.mjs');
const { sustainedIngest, lineChangeLatency, connectionScale } = await import('../bench/scenarios/ingest.mjs');
const { storms } = await import('../bench/scenarios/storms.mjs');
const { authStorm, seedBasicDevices, SHIPPED_DEFAULTS_ENV } = await import('../bench/scenarios/auth-storm.mjs');
const { writeReport } = await import('../bench/lib/report.mjs');
const { writeMultiReport } = await import('../bench/lib/report-multi.mjs');
const { clusterConnections } = await import('../bench/scenarios/cluster.mjs');
const { storm20k } = await import('../bench/scenarios/storm20k.mjs');
const { scalingCurve } = await import('../bench/scenarios/scaling.mjs');

const outDir = join(root, args.out);
const tmp = join(outDir, 'tmp');
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
const profileDir = (!quick || args.profile) && !args['no-profile'] ? join(tmp, 'profiles') : undefined;
const pkgVersion = (name) => {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
};
const started = Date.now();
const result = {
  version: 1,
  mode: quick ? 'quick' : 'full',
  startedAt: new Date(started).toISOString(),
  machine: {
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    openFilesLimit: fdLimit,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    packages: Object.fromEntries(
      ['aedes', 'bullmq', 'ioredis', 'pg', 'fastify', 'mqtt-packet', 'typescript'].map((n) => [n, pkgVersion(n)]),
    ),
    postgres: null,
    redis: null,
    mosquitto: null,
  },
  parameters: P,
  scenarios: {},
  errors: {},
};
const step = async (key, fn) => {
  if (!want(key)) return;
  const t0 = Date.now();
  say(`${key}…`);
  try {
    result.scenarios[key] = await fn();
    say(`${key} done in ${Math.round((Date.now() - t0) / 1000)} s`);
  } catch (err) {
    result.errors[key] = String(err?.stack ?? err).slice(0, 2000);
    say(`${key} FAILED: ${err?.message ?? err}`);
  }
};

const mosq = await startMosquitto();
result.machine.mosquitto = mosq.version;
let sys;
try {
  // ---- system A: ingest, latency, connection scale ----
  if (want('ingest') || want('latency') || want('connections')) {
    const n = Math.max(P.connections.connections, P.ingest.devices, P.latency.bgDevices + P.latency.probes);
    let tokens;
    sys = await startSystem({
      root,
      label: 'a',
      profileDir: profileDir && join(profileDir, 'a'),
      verbose: args.verbose,
      seed: async (pool) => {
        tokens = await seedDevices(pool, n);
      },
    });
    const v = await sys.pool.query('SHOW server_version');
    result.machine.postgres = v.rows[0].server_version;
    await step('ingest', () => sustainedIngest(sys, mosq, tokens, P.ingest));
    await step('latency', () => lineChangeLatency(sys, mosq, tokens, P.latency));
    await step('connections', () => connectionScale(sys, mosq, tokens, P.connections));
    await sys.stop();
    sys = undefined;
  }
  // ---- system B: outage storm then reconnect storm (alerts in this process) ----
  if (want('storms')) {
    let tokens;
    sys = await startSystem({
      root,
      label: 'b',
      verbose: args.verbose,
      seed: async (pool) => {
        tokens = await seedDevices(pool, P.storms.devices, { regions: P.storms.regions });
      },
    });
    await step('storms', () => storms(sys, root, tokens, P.storms));
    await sys.stop();
    sys = undefined;
  }
  // ---- system C: grid-restore storm with the fleet's real (supplied-password) credentials ----
  if (want('authstorm')) {
    let creds;
    sys = await startSystem({
      root,
      label: 'c',
      verbose: args.verbose,
      env: SHIPPED_DEFAULTS_ENV,
      seed: async (pool) => {
        creds = await seedBasicDevices(pool, P.authstorm.devices);
      },
    });
    await step('authstorm', () => authStorm(sys, root, creds, mosq, P.authstorm));
    await sys.stop();
    sys = undefined;
  }
  // ---- 7–9. multi-process: each starts its own processes through the launcher ----
  await step('cluster', () => clusterConnections(root, { ...P.cluster, verbose: args.verbose }));
  await step('storm20k', () => storm20k(root, { ...P.storm20k, verbose: args.verbose }));
  await step('scaling', () => scalingCurve(root, { ...P.scaling, verbose: args.verbose }));
  // ---- 6. API read side: the API package's own benchmark (fresh database, dropped after) ----
  await step('api', async () => {
    const entry = join(root, 'apps/api/dist/bench/api.js');
    const out = await new Promise((resolve, reject) => {
      const c = spawn(process.execPath, [entry], { cwd: root, env: { ...process.env, ...P.api } });
      let text = '';
      c.stdout.on('data', (d) => {
        text += d;
      });
      c.stderr.on('data', (d) => {
        text += d;
      });
      // Seeding 10,000 devices with a year of history and their report rollups takes minutes on
      // a quiet machine (the rollups alone ran over 45 minutes at load average 8-20 on
      // 3 December 2026), then ~5 minutes of status and report measurements: 60 minutes (quick 15).
      const kill = setTimeout(() => c.kill('SIGTERM'), (quick ? 900 : 3600) * 1000);
      c.on('exit', (code) => {
        clearTimeout(kill);
        code === 0 ? resolve(text) : reject(new Error(`api bench exited ${code}: ${text.slice(-800)}`));
      });
    });
    const num = (re, text = out) => {
      const m = re.exec(text);
      return m ? Number(m[1]) : null;
    };
    // The lines of one "-- compact status from <source> (…), cache <ms> ms" section of its output.
    const section = (source, cached) => {
      const m = new RegExp(
        `^-- compact status from ${source} \\(.*?cache ${cached ? '[1-9]\\d*' : '0'} ms\\b.*$`,
        'm',
      ).exec(out);
      if (!m) return '';
      const rest = out.slice(m.index + m[0].length);
      const next = rest.search(/^(--|year reliability report)/m);
      return next < 0 ? rest : rest.slice(0, next);
    };
    const cachedSnap = section('snapshot', true);
    const cachedOld = section('compute', true);
    return {
      conditions: `apps/api/dist/bench/api.js, ${P.api.BENCH_DEVICES} devices with a year of outage history, ${P.api.BENCH_SECONDS} s of /api/status`,
      devices: Number(P.api.BENCH_DEVICES),
      // The default path (compact status from the worker-kept snapshot, gzip, 20 clients) and
      // the previous design measured in the same run (computed per read; the full /api/status).
      statusP99Ms: num(/^GET \/api\/status\/compact \(cache \d+ ms, gzip[^\n]*?p99 ([\d.]+) ms/m, cachedSnap),
      status304P99Ms: num(/^GET \/api\/status\/compact If-None-Match[^\n]*?p99 ([\d.]+) ms/m, cachedSnap),
      statusComputedP99Ms: num(/^GET \/api\/status\/compact \(cache \d+ ms, gzip[^\n]*?p99 ([\d.]+) ms/m, cachedOld),
      statusFullP99Ms: num(/^GET \/api\/status \(cache [1-9]\d* ms, gzip[^\n]*?p99 ([\d.]+) ms/m),
      statusUncachedP99Ms: num(
        /^GET \/api\/status\/compact \(cache 0 ms[^\n]*?p99 ([\d.]+) ms/m,
        section('snapshot', false),
      ),
      yearReportP50Ms: num(/year reliability report by region from rollup[^\n]*?p50 ([\d.]+) ms/),
      output: out.trim().split('\n').slice(-40),
    };
  });
} finally {
  if (sys) await sys.stop().catch(() => {});
  await mosq.stop();
}

// ---- profiles of broker and worker (full run, system A) ----
if (profileDir && result.scenarios.ingest) {
  try {
    const { summarizeProfile } = await import(pathToFileURL(join(root, 'apps/broker/dist/bench/profile.js')).href);
    result.profiles = {};
    for (const name of ['broker', 'worker']) {
      const dir = join(profileDir, 'a', name);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file) result.profiles[name] = summarizeProfile(join(dir, file), 12);
    }
  } catch (err) {
    result.errors.profiles = String(err);
  }
}
// Runs of the launcher scenarios alone never started system A, which reads the server version.
if (!result.machine.postgres) {
  const { default: pg } = await import('pg');
  const c = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/postgres' });
  result.machine.postgres = await c
    .connect()
    .then(() => c.query('SHOW server_version'))
    .then((r) => r.rows[0].server_version)
    .catch(() => null);
  await c.end().catch(() => {});
}
result.durationS = Math.round((Date.now() - started) / 1000);
result.machine.loadAverageAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
mkdirSync(outDir, { recursive: true });
const md = `${writeReport(result)}\n${writeMultiReport(result)}`;
// Only a full run replaces the committed results; a quick run goes to the ignored tmp folder.
const dest = quick || only ? tmp : outDir;
writeFileSync(join(dest, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(dest, 'latest.md'), md);
// The repository's formatter owns JSON layout (the committed result passes `npm run lint`).
spawnSync('npx', ['biome', 'format', '--write', join(dest, 'latest.json')], { cwd: root, stdio: 'ignore' });
// A full run of a multi-process scenario is kept on its own: bench-results/<name>-latest.*
if (!quick)
  for (const key of MULTI.filter((k) => result.scenarios[k])) {
    const one = { ...result, parameters: { [key]: P[key] }, scenarios: { [key]: result.scenarios[key] }, errors: {} };
    const m = result.machine;
    const head =
      `# SPMS benchmark: ${key} (full size)\n\n${result.startedAt}, suite ${result.durationS} s. Machine: ${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB, ` +
      `Node ${m.node}, PostgreSQL ${m.postgres ?? '?'}, ${m.mosquitto ?? ''}; open files ${m.openFilesLimit} per process; load average ` +
      `${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end (shared machine). Everything on loopback.\n\n`;
    writeFileSync(join(outDir, `${key}-latest.json`), `${JSON.stringify(one, null, 2)}\n`);
    writeFileSync(
      join(outDir, `${key}-latest.md`),
      `${head}${writeMultiReport(one)}\nRe-run: \`npm run bench -- --only ${key}\`.\n`,
    );
    spawnSync('npx', ['biome', 'format', '--write', join(outDir, `${key}-latest.json`)], {
      cwd: root,
      stdio: 'ignore',
    });
  }
console.log(`\n${md}`);
say(`wrote ${join(dest, 'latest.json')} and latest.md in ${result.durationS} s`);
process.exit(Object.keys(result.errors).length ? 1 : 0);
