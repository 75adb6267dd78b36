#!/usr/bin/env node
/**
 * Memory per idle authenticated connection, and where it goes. Starts one broker process
 * from dist (with memory-probe.js preloaded), opens BENCH_CONNECTIONS idle authenticated
 * connections from this process (the load side), and reports the growth of RSS, V8 heap,
 * external and ArrayBuffer memory per connection, measured after a full GC, plus the heap
 * objects the connections added, by constructor (two heap snapshots, diffed).
 *
 *   npm run build && node apps/broker/dist/bench/memory.js
 *   BENCH_CONNECTIONS=5000 BENCH_SNAPSHOT=0 BENCH_NODE_FLAGS="--max-semi-space-size=1" node apps/broker/dist/bench/memory.js
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, createTestRedis } from '@spms/testing';
import { seedTokenDevices, startBrokerProcess } from './broker-process.js';
import { heapGrowth, summarizeHeap } from './heap-summary.js';
import { connectAll, rssKiB } from './measure.js';

const N = Number(process.env.BENCH_CONNECTIONS ?? 5000);
const SNAPSHOT = process.env.BENCH_SNAPSHOT !== '0';
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
// BENCH_BROKER_ENV="LD_PRELOAD=libjemalloc.so.2 …": environment for the broker process only.
const BROKER_ENV = Object.fromEntries(
  (process.env.BENCH_BROKER_ENV ?? '')
    .split(' ')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const WARMUP = 200;
// Seconds the connections stay idle before the figures without a forced GC are read.
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  mallocedMemory: number;
}

function probe(child: ChildProcess) {
  let next = 1;
  const ask = <T>(msg: Record<string, unknown>) =>
    new Promise<T>((resolve) => {
      const id = next++;
      const on = (reply: { id: number } & T) => {
        if (reply.id !== id) return;
        child.off('message', on);
        resolve(reply);
      };
      child.on('message', on);
      child.send({ id, ...msg });
    });
  return {
    memory: () => ask<Memory>({ cmd: 'memory' }),
    /** The same figures as the process holds them in normal running (no forced GC). */
    memoryAsIs: () => ask<Memory>({ cmd: 'memory', gc: false }),
    snapshot: (path: string) => ask<{ path: string }>({ cmd: 'snapshot', path }),
  };
}

/** Resident KiB by kind of mapping: brk heap, large anonymous regions (V8 spaces, malloc arenas), other. */
function smaps(pid: number): Record<string, number> {
  const out: Record<string, number> = { brk: 0, anon: 0, file: 0 };
  let kind = 'file';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1] ?? '';
      kind = name === '[heap]' ? 'brk' : name === '' ? 'anon' : 'file';
      continue;
    }
    const rss = /^Rss:\s+(\d+)/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]);
  }
  return out;
}

async function main(): Promise<void> {
  const kib = (bytes: number) => (bytes / 1024 / N).toFixed(2);
  console.log(`SPMS broker memory per idle authenticated connection: ${N} connections, one broker process`);
  console.log(
    `  node ${process.version}, flags: ${NODE_FLAGS.join(' ') || '(none)'}, broker environment: ${process.env.BENCH_BROKER_ENV || '(as shipped)'}`,
  );
  console.log(
    `  load average before: ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} (shared machine)`,
  );
  const db = await createTestDatabase('bench_memory');
  const redis = createTestRedis('bench-memory');
  const dir = mkdtempSync(join(tmpdir(), 'spms-mem-'));
  let child: ChildProcess | undefined;
  try {
    const tokens = await seedTokenDevices(db.url, N + WARMUP, 'mem', '00000000-0000-4000-8000-00000000be02');
    const probeFile = fileURLToPath(new URL('./memory-probe.js', import.meta.url));
    const broker = await startBrokerProcess({
      dbUrl: db.url,
      redisUrl: redis.url,
      prefix: redis.prefix,
      nodeArgs: [...NODE_FLAGS, '--import', probeFile],
      ipc: true,
      env: BROKER_ENV,
    });
    child = broker.child;
    const pid = child.pid as number;
    const p = probe(child);
    // Warm-up: the code paths a connection takes are compiled and their caches filled first.
    const warm = await connectAll(WARMUP, broker.mqttPort, (i) => tokens[N + i], 'warm');
    for (const c of warm) c.close();
    await sleep(1500);
    const m0 = await p.memory();
    const rss0 = rssKiB(pid);
    const t0 = performance.now();
    // Two halves: the second half's growth is the marginal cost, free of one-off growth
    // (heap spaces, allocator arenas) that the first connections trigger.
    const half = Math.floor(N / 2);
    const clients = await connectAll(half, broker.mqttPort, (i) => tokens[i], 'mem');
    await sleep(2000);
    const rssHalf = rssKiB(pid);
    const mHalf = await p.memory();
    const smapsHalf = smaps(pid);
    clients.push(...(await connectAll(N - half, broker.mqttPort, (i) => tokens[half + i], 'mem2')));
    const connectS = (performance.now() - t0) / 1000;
    await sleep(IDLE_S * 1000);
    const rss1 = rssKiB(pid); // before the probe's GC: what the process holds in normal running
    const asIs = await p.memoryAsIs();
    const m1 = await p.memory();
    console.log(
      `  ${clients.length} connected in ${connectS.toFixed(1)} s; load average ${loadavg()[0]?.toFixed(1)}\n`,
    );
    console.log('| per connection | KiB |');
    console.log('|---|---:|');
    console.log(`| RSS (no forced GC, ${IDLE_S} s idle) | ${((rss1 - rss0) / N).toFixed(2)} |`);
    console.log(
      `| V8 heap used / reserved (no forced GC) | ${kib(asIs.heapUsed - m0.heapUsed)} / ${kib(asIs.heapTotal - m0.heapTotal)} |`,
    );
    console.log(
      `| rest of RSS, no forced GC (native: sockets, libuv, allocator) | ${kib(asIs.rss - m0.rss - (asIs.heapTotal - m0.heapTotal) - (asIs.external - m0.external))} |`,
    );
    console.log(`| RSS (after full GC) | ${kib(m1.rss - m0.rss)} |`);
    console.log(`| V8 heap used (after full GC) | ${kib(m1.heapUsed - m0.heapUsed)} |`);
    console.log(`| V8 heap reserved (heapTotal) | ${kib(m1.heapTotal - m0.heapTotal)} |`);
    console.log(`| external (Buffers etc.) | ${kib(m1.external - m0.external)} |`);
    console.log(`| of which ArrayBuffers | ${kib(m1.arrayBuffers - m0.arrayBuffers)} |`);
    console.log(`| V8 malloced | ${kib(m1.mallocedMemory - m0.mallocedMemory)} |`);
    console.log(
      `| rest of RSS (native: sockets, libuv, allocator) | ${kib(m1.rss - m0.rss - (m1.heapTotal - m0.heapTotal) - (m1.external - m0.external))} |`,
    );
    const n2 = N - half;
    const k2 = (a: number, b: number) => ((a - b) / 1024 / n2).toFixed(2);
    console.log(
      `\nMarginal (second ${n2} connections): RSS ${((rss1 - rssHalf) / n2).toFixed(2)} KiB, heapUsed ${k2(m1.heapUsed, mHalf.heapUsed)} KiB, external ${k2(m1.external, mHalf.external)} KiB, native rest ${k2(m1.rss - mHalf.rss - (m1.heapTotal - mHalf.heapTotal) - (m1.external - mHalf.external), 0)} KiB`,
    );
    const sm1 = smaps(pid);
    console.log(
      `RSS by mapping, growth over the second half (KiB/conn): ${Object.entries(sm1)
        .map(([k, v]) => `${k} ${((v - (smapsHalf[k] ?? 0)) / n2).toFixed(2)}`)
        .join(', ')}`,
    );
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(
      `\nProcess before the connections (warmed up, after full GC): RSS ${mib(m0.rss)} MiB, heap used ${mib(m0.heapUsed)} MiB of ${mib(m0.heapTotal)} MiB, external ${mib(m0.external)} MiB`,
    );
    console.log(`\nRSS ${(rss0 / 1024).toFixed(0)} → ${(rss1 / 1024).toFixed(0)} MiB`);
    if (SNAPSHOT) {
      // Snapshots only now: writing one leaves native memory resident and would skew RSS.
      // The second half is closed between two snapshots: what it held is what was freed.
      await p.snapshot(join(dir, 'with.heapsnapshot'));
      for (const c of clients.splice(half)) c.close();
      await sleep(3000);
      await p.snapshot(join(dir, 'without.heapsnapshot'));
      const rows = heapGrowth(
        summarizeHeap(join(dir, 'without.heapsnapshot')),
        summarizeHeap(join(dir, 'with.heapsnapshot')),
      );
      const total = rows.reduce((s, r) => s + r.bytes, 0);
      console.log(
        `\nHeap objects held per connection (snapshot with/without ${n2} connections; ${(total / n2).toFixed(0)} B in groups that shrank):`,
      );
      console.log('| group | objects/conn | bytes/conn |');
      console.log('|---|---:|---:|');
      for (const r of rows.slice(0, Number(process.env.BENCH_TOP ?? 40)))
        console.log(
          `| ${r.key.replaceAll('|', '/').slice(0, 70)} | ${(r.count / n2).toFixed(2)} | ${(r.bytes / n2).toFixed(0)} |`,
        );
    }
    for (const c of clients) c.close();
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
    await redis.cleanup();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('memory benchmark failed:', err);
    process.exit(1);
  },
);
