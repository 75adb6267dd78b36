#!/usr/bin/env node
/**
 * Idle authenticated connections across several broker processes, as `npm start` runs
 * them (scripts/supervise.mjs: Node cluster workers sharing MQTT_PORT), beside a private
 * Mosquitto measured in the same run with the same load. The load comes from BENCH_LOADERS
 * child processes, from loopback's own source address (unbound) to 8 loopback destination
 * addresses in turn (to one destination the kernel's source-port search slows with every
 * socket held), arriving at BENCH_RATE connections per second in all.
 *
 *   npx tsc -b apps/broker && node apps/broker/dist/bench/cluster-connections.js
 *   BENCH_CONNECTIONS=20000 BENCH_PROCESSES=1,2 BENCH_RATE=1500 BENCH_LOADERS=4 node …
 *
 * Reports per broker-process count: connections held, refusals by kind, CONNACK p50/p99
 * (from the TCP connect call), summed RSS of the broker processes before and after, and
 * RSS growth per held connection.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, createTestRedis, freePort } from '@spms/testing';
import { NO_LIMITS, seedTokenDevices } from './broker-process.js';
import { rssKiB, waitForPort } from './measure.js';

const N = Number(process.env.BENCH_CONNECTIONS ?? 10_000);
const PROCESSES = (process.env.BENCH_PROCESSES ?? '1,2').split(',').map(Number);
const RATE = Number(process.env.BENCH_RATE ?? 1500);
const LOADERS = Number(process.env.BENCH_LOADERS ?? 4);
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 5000);
const MOSQUITTO = process.env.BENCH_MOSQUITTO !== '0';
/** Where the load connects: the broker port on these loopback addresses in turn (brokers listen on all). */
const DESTINATIONS = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (a: number[], p: number) =>
  a.length ? (a[Math.min(a.length - 1, Math.floor(p * a.length))] as number) : NaN;

interface Ramped {
  held: number;
  latencies: number[];
  failures: Record<string, number>;
  rampS: number;
}

/** Child pids of a process (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Opens the fleet from LOADERS child processes, holds it, measures, closes it. */
async function load(port: number, tokens: (string | undefined)[], tag: string, pids: () => number[]) {
  const rss0 = pids().reduce((s, p) => s + rssKiB(p), 0);
  const entry = fileURLToPath(new URL('./cluster-load.js', import.meta.url));
  const per = Math.ceil(tokens.length / LOADERS);
  const loaders: ChildProcess[] = [];
  const ramped = await Promise.all(
    Array.from({ length: LOADERS }, (_, k) => {
      const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      loaders.push(child);
      return new Promise<Ramped>((resolve) => {
        child.once('message', (m: Ramped) => resolve(m));
        child.send({
          cmd: 'run',
          run: {
            port,
            tokens: tokens.slice(k * per, (k + 1) * per),
            tag: `${tag}-${k}`,
            hosts: DESTINATIONS,
            ratePerSecond: RATE / LOADERS,
          },
        });
      });
    }),
  );
  await sleep(HOLD_MS);
  const rss1 = pids().reduce((s, p) => s + rssKiB(p), 0);
  const open = await Promise.all(
    loaders.map(
      (c) =>
        new Promise<number>((resolve) => {
          c.once('message', (m: { open: number }) => resolve(m.open));
          c.send({ cmd: 'count' });
        }),
    ),
  );
  for (const c of loaders) c.send({ cmd: 'close' });
  await Promise.all(loaders.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  const latencies = ramped.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const failures: Record<string, number> = {};
  for (const r of ramped) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  const held = open.reduce((s, n) => s + n, 0);
  return {
    attempted: tokens.length,
    held,
    failures,
    rampS: Math.max(...ramped.map((r) => r.rampS)),
    connackP50: pct(latencies, 0.5),
    connackP99: pct(latencies, 0.99),
    rssBeforeMiB: rss0 / 1024,
    rssAfterMiB: rss1 / 1024,
    perConnKiB: held ? (rss1 - rss0) / held : NaN,
    load: loadavg()[0] ?? 0,
  };
}

function line(label: string, r: Awaited<ReturnType<typeof load>>): string {
  const f = Object.entries(r.failures)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `| ${label} | ${r.held} / ${r.attempted} | ${f || '–'} | ${r.rampS.toFixed(1)} | ${r.connackP50.toFixed(0)} | ${r.connackP99.toFixed(0)} | ${r.rssBeforeMiB.toFixed(0)} → ${r.rssAfterMiB.toFixed(0)} | ${r.perConnKiB.toFixed(1)} | ${r.load.toFixed(1)} |`;
}

async function startCluster(processes: number, dbUrl: string, redisUrl: string, prefix: string) {
  const mqttPort = await freePort();
  const base = 20_000 + Math.floor(Math.random() * 20_000) * 2;
  const supervisor = spawn(process.execPath, ['scripts/supervise.mjs'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      BROKER_PROCESSES: String(processes),
      WORKER_PROCESSES: '0',
      API_PROCESSES: '0',
      ALERTS_PROCESSES: '0',
      MQTT_HOST: '0.0.0.0',
      MQTT_PORT: String(mqttPort),
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: String(base),
      // Capacity, not the abuse limits (one loopback address stands for thousands of modems).
      ...NO_LIMITS,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < processes; i++) {
    const port = base + 2 * i;
    for (let t = 0; ; t++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (t > 300 || supervisor.exitCode !== null) throw new Error(`broker process ${i + 1} not ready`);
      await sleep(200);
    }
  }
  const stop = async () => {
    const exited = new Promise((r) => supervisor.once('exit', r));
    supervisor.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
  };
  return { mqttPort, pids: () => childrenOf(supervisor.pid as number), stop };
}

async function main(): Promise<void> {
  console.log(
    `SPMS connections across broker processes: ${N} idle authenticated connections, ${RATE}/s from ${LOADERS} load processes (127.0.0.1 to ${DESTINATIONS.length} destination addresses), held ${HOLD_MS / 1000} s`,
  );
  console.log(
    `  load average before: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (shared 2-core machine)\n`,
  );
  console.log(
    '| broker | held | refused / failed | ramp s | CONNACK p50 ms | p99 ms | RSS MiB (sum) | KiB/conn | load |',
  );
  console.log('|---|---:|---|---:|---:|---:|---:|---:|---:|');
  const db = await createTestDatabase('bench_cluster');
  const redis = createTestRedis('bench-cluster');
  try {
    const tokens = await seedTokenDevices(db.url, N, 'cl', '00000000-0000-4000-8000-00000000be03');
    for (const p of PROCESSES) {
      const cluster = await startCluster(p, db.url, redis.url, redis.prefix);
      try {
        const r = await load(cluster.mqttPort, tokens, `spms${p}`, cluster.pids);
        console.log(line(`SPMS × ${p} process${p > 1 ? 'es' : ''}`, r));
      } finally {
        await cluster.stop();
      }
      await sleep(3000);
    }
    if (MOSQUITTO) {
      const port = await freePort();
      const mosq = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' });
      try {
        await waitForPort(port);
        const r = await load(port, new Array(N).fill(undefined), `mosq-${process.pid}`, () => [mosq.pid as number]);
        console.log(line('Mosquitto (fresh, 1 process, no auth)', r));
      } finally {
        mosq.kill();
      }
    }
  } finally {
    await redis.cleanup();
    await db.drop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('cluster benchmark failed:', err);
    process.exit(1);
  },
);
