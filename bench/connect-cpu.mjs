#!/usr/bin/env node
// Broker CPU per warm authenticated connect (docs/scaling.md, "CPU per warm connect"): one
// broker process as the app starts it (apps/broker/dist/main.js, real Redis and PostgreSQL),
// a fleet with MQTT Basic credentials (supplied passwords, scrypt) already in the shared
// verified-credential cache, and this process as the load: N devices connect at a steady
// rate, each then sends its QoS 1 boot burst. Figure: the broker process's CPU time
// (/proc/<pid>/stat) from the first connect until the broker is quiet again, less its idle
// rate over the same time, divided by N. Loopback only, bounded in time.
//
//   node bench/connect-cpu.mjs setup [N]      seed N devices (default 3000), warm the shared cache
//   node bench/connect-cpu.mjs run [runs] [--rate=1500] [--burst=8] [--warm=K] [--prof | --perf=FILE] [--node-args="..."] [--spaces]
//   node bench/connect-cpu.mjs clean          drop the database and the Redis keys
//   BROKER_DIST=dist-before node bench/connect-cpu.mjs run   a copy of another build's apps/broker/dist
// The seeded fleet is kept between runs in CONNBENCH_STATE (default /tmp/spms-connbench.json).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '@spms/db';
import { LeanMqttClient, mqttLinePayload, TELEMETRY_TOPIC } from '@spms/simulator';
import { bench as benchEnv, createTestDatabase, deleteKeys } from '@spms/testing';
import { seedBasicDevices } from './scenarios/auth-storm.mjs';

// BROKER_DIST: another build of apps/broker to compare (a copy of its dist/ beside it).
const dist = `../apps/broker/${process.env.BROKER_DIST ?? 'dist'}/bench`;
const { startBrokerProcess } = await import(`${dist}/broker-process.js`);
const { cpuTicks } = await import(`${dist}/measure.js`);
const { summarizeProfile } = await import(`${dist}/profile.js`);

const STATE = process.env.CONNBENCH_STATE ?? '/tmp/spms-connbench.json';
const TICK_MS = 10; // /proc clock ticks are 1/100 s
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const arg = (name, def) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : def;
};

function brokerEnv(state) {
  // As shipped, but with the shared cache's secret (the devices are known there).
  return { DEVICE_AUTH_CACHE_SECRET: state.secret };
}

async function start(state, nodeArgs = []) {
  Object.assign(process.env, brokerEnv(state));
  return startBrokerProcess({ dbUrl: state.dbUrl, redisUrl: benchEnv.REDIS_URL, prefix: state.prefix, nodeArgs });
}

async function stop(broker) {
  const exited = new Promise((r) => broker.child.once('exit', r));
  broker.child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (broker.child.exitCode === null) broker.child.kill('SIGKILL');
}

async function metrics(broker) {
  return fetch(`http://127.0.0.1:${broker.httpPort}/metrics`).then((r) => r.text());
}
/** Read and write system calls of a process so far (/proc/<pid>/io: every thread). */
function syscalls(pid) {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const f = (k) => Number(new RegExp(`${k}: (\\d+)`).exec(io)?.[1] ?? Number.NaN);
  return { r: f('syscr'), w: f('syscw') };
}
const metric = (text, line) =>
  Number(
    text
      .split('\n')
      .find((l) => l.startsWith(line))
      ?.slice(line.length) ?? 0,
  );

/** Seconds spent in GC so far by kind (major, minor, incremental, weakcb), from prom-client's histogram. */
function gcSeconds(text) {
  const out = {};
  for (const [, kind, v] of text.matchAll(/^\w*nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} ([\d.e+-]+)$/gm))
    out[kind] = Number(v);
  return out;
}

/** Connects `creds` at `rate`/s, each sends `burst` QoS 1 messages; resolves with the clients and CONNACK times. */
async function storm(port, creds, rate, burst) {
  const clients = [];
  const connackMs = [];
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(
    creds.map(async (cr, i) => {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 1) await sleep(wait);
      const c = new LeanMqttClient({
        host: '127.0.0.1',
        port,
        clientId: cr.clientId,
        username: cr.username,
        password: cr.password,
        keepalive: 120,
        connectTimeoutMs: 30_000,
      });
      const a = performance.now();
      try {
        await c.connect();
        connackMs.push(performance.now() - a);
        clients.push(c);
        await Promise.all(
          Array.from({ length: burst }, (_, l) => c.publish(TELEMETRY_TOPIC, mqttLinePayload(1 + (l % 8), true), 1)),
        );
      } catch {
        failed++;
        c.destroy();
      }
    }),
  );
  connackMs.sort((x, y) => x - y);
  const p = (q) => Math.round(connackMs[Math.min(connackMs.length - 1, Math.floor(q * connackMs.length))] ?? -1);
  return { clients, failed, p50: p(0.5), p99: p(0.99), seconds: (performance.now() - t0) / 1000 };
}

/** Waits until the broker used no CPU for a whole 200 ms (its sweeps aside): the storm's work is done. */
async function quiet(pid, idlePerSec) {
  let last = cpuTicks(pid);
  for (let i = 0; i < 50; i++) {
    await sleep(500);
    const now = cpuTicks(pid);
    if (now - last <= Math.ceil((idlePerSec / 2) * 1.5) + 1) return;
    last = now;
  }
}

async function setup(n) {
  if (existsSync(STATE)) throw new Error(`${STATE} exists: run clean first`);
  const db = await createTestDatabase('connbench');
  const state = {
    dbName: db.name,
    dbUrl: db.url,
    prefix: `spmsbench:conn${randomBytes(3).toString('hex')}`,
    secret: randomBytes(32).toString('hex'),
    creds: [],
  };
  const pool = createPool(state.dbUrl, { max: 2 });
  try {
    state.creds = await seedBasicDevices(pool, n);
  } finally {
    await pool.end();
  }
  writeFileSync(STATE, JSON.stringify(state));
  // Warm the shared cache: every device once, a few at a time (each costs one scrypt check).
  const broker = await start(state);
  try {
    for (let i = 0; i < n; i += 20) {
      const r = await storm(broker.mqttPort, state.creds.slice(i, i + 20), 1000, 0);
      for (const c of r.clients) c.destroy();
    }
    const m = await metrics(broker);
    console.log(
      `seeded ${n}; shared cache stored ${metric(m, 'spms_broker_auth_shared_cache_total{result="stored"} ')}, hashes ${metric(m, 'spms_broker_auth_hashes_total ')}`,
    );
  } finally {
    await stop(broker);
  }
}

async function run(runs, rate, burst, prof, perf) {
  const state = JSON.parse(readFileSync(STATE, 'utf8'));
  // --warm=K: K other devices of the fleet storm the process first (then leave), so the measured
  // storm meets a process whose code V8 has already compiled, as a broker that ran before the
  // blackout; the measured devices are still unknown to its own cache (the shared cache answers).
  const warm = arg('warm', 0);
  const creds = state.creds.slice(0, state.creds.length - warm);
  const n = creds.length;
  console.log(
    `${n} devices at ${rate}/s, boot burst ${burst} x QoS 1, ${runs} run(s)` +
      `${warm ? `, after ${warm} others warmed the process` : ', fresh process'}${prof ? ', --cpu-prof' : ''}`,
  );
  // --node-args="--flag --other": extra Node/V8 options for the broker process (experiments).
  const extra =
    process.argv
      .find((a) => a.startsWith('--node-args='))
      ?.slice(12)
      .split(' ')
      .filter(Boolean) ?? [];
  for (let k = 0; k < runs; k++) {
    const dir = prof ? mkdtempSync(join(tmpdir(), 'connbench-prof-')) : null;
    const nodeArgs = [...extra, ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : perf ? ['--perf-basic-prof'] : [])];
    const broker = await start(state, nodeArgs);
    const pid = broker.child.pid;
    try {
      if (warm) {
        const w = await storm(broker.mqttPort, state.creds.slice(n), rate, burst);
        for (const c of w.clients) c.destroy();
      }
      await sleep(2000);
      const i0 = cpuTicks(pid);
      await sleep(3000);
      const idlePerSec = (cpuTicks(pid) - i0) / 3;
      const load0 = load();
      const c0 = cpuTicks(pid);
      const s0 = syscalls(pid);
      // On-CPU samples of the broker during the storm only (user and kernel; the V8 profile
      // samples wall time, so it also counts the time a write spends preempted by Redis).
      const rec = perf
        ? spawn('perf', ['record', '-F', '999', '-g', '-p', String(pid), '-o', perf], { stdio: 'ignore' })
        : null;
      if (rec) await sleep(500);
      const gc0 = gcSeconds(await metrics(broker));
      const t0 = performance.now();
      const r = await storm(broker.mqttPort, creds, rate, burst);
      await quiet(pid, idlePerSec);
      const secs = (performance.now() - t0) / 1000;
      const ticks = cpuTicks(pid) - c0;
      const s1 = syscalls(pid);
      if (rec) {
        rec.kill('SIGINT');
        await new Promise((r) => rec.once('exit', r));
      }
      const m = await metrics(broker);
      const gc1 = gcSeconds(m);
      const net = (ticks - idlePerSec * secs) * TICK_MS;
      console.log(
        `run ${k + 1}: ${r.clients.length} connected, ${r.failed} failed; broker CPU ${(ticks * TICK_MS) / 1000} s over ${secs.toFixed(1)} s ` +
          `(idle ${(idlePerSec * TICK_MS).toFixed(0)} ms/s) => ${(net / r.clients.length).toFixed(3)} ms per connect ` +
          `[raw ${((ticks * TICK_MS) / r.clients.length).toFixed(3)}]; CONNACK p50 ${r.p50} ms p99 ${r.p99} ms; ` +
          `syscalls per connect: ${((s1.r - s0.r) / n).toFixed(1)} read, ${((s1.w - s0.w) / n).toFixed(1)} write; ` +
          `shared hits ${metric(m, 'spms_broker_auth_shared_cache_total{result="hit"} ')}, hashes ${metric(m, 'spms_broker_auth_hashes_total ')}; ` +
          `GC pauses ${Object.keys(gc1)
            .map((k) => `${k} ${Math.round((gc1[k] - (gc0[k] ?? 0)) * 1000)} ms`)
            .join(', ')}; ` +
          `load ${load0} -> ${load()}`,
      );
      if (process.argv.includes('--spaces')) {
        // The V8 heap by space while the connections are held, then after the post-storm collection.
        const spaces = (t) =>
          [...t.matchAll(/^\w*nodejs_heap_space_size_(total|used)_bytes\{space="(\w+)"\} ([\d.e+]+)$/gm)]
            .filter(([, , sp]) => ['new', 'old', 'code', 'large_object'].includes(sp))
            .map(([, k, sp, v]) => `${sp} ${k} ${(Number(v) / 2 ** 20).toFixed(1)}`)
            .join(', ');
        console.log(`heap spaces (MiB) held: ${spaces(m)}`);
        await sleep(20_000);
        console.log(`heap spaces (MiB) 20 s later: ${spaces(await metrics(broker))}`);
      }
      for (const c of r.clients) c.destroy();
      await sleep(2000);
    } finally {
      await stop(broker);
      // The boot bursts and connectivity events wait in the ingest queue (no worker here): drop them.
      await deleteKeys(benchEnv.REDIS_URL, `${state.prefix}:ingest`);
    }
    if (dir) {
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file) {
        console.log(summarizeProfile(join(dir, file), 30));
        console.log(`profile: ${join(dir, file)}`);
      }
    }
  }
}

async function clean() {
  const state = JSON.parse(readFileSync(STATE, 'utf8'));
  await deleteKeys(benchEnv.REDIS_URL, state.prefix);
  await benchEnv.admin(`DROP DATABASE IF EXISTS ${state.dbName} WITH (FORCE)`);
  rmSync(STATE);
}

const [cmd, x] = process.argv.slice(2);
if (cmd === 'setup') await setup(Number(x ?? 3000));
else if (cmd === 'run')
  await run(
    Number(x && !x.startsWith('--') ? x : 1),
    arg('rate', 1500),
    arg('burst', 8),
    process.argv.includes('--prof'),
    process.argv.find((a) => a.startsWith('--perf='))?.slice(7),
  );
else if (cmd === 'clean') await clean();
else
  console.log(
    'usage: node bench/connect-cpu.mjs setup [N] | run [runs] [--rate=1500] [--burst=8] [--warm=K] [--prof | --perf=FILE] | clean',
  );
process.exit(0);
