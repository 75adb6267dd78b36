#!/usr/bin/env node
// `npm run soak`: a long run of a realistic fleet against the built system (broker, worker,
// API as child processes on free ports, fresh database and Redis prefix, as `npm run bench`),
// reporting per-process retained heap and RSS slopes after a warm-up, ingest queue depth and
// p99 latencies per window. Exits non-zero if a process died, nothing was recorded, or — for
// runs of 10 minutes or more — a process's retained heap grows ≥ 1 MiB per 10 minutes.
//
//   npm run build && npm run soak -- --minutes 30      # writes bench-results/soak-latest.{json,md}
//   npm run soak -- --quick                            # 1-minute smoke, 300 devices (CI)
//   npm run soak -- --minutes 10 --devices 5000 --ramp 100   # boots per second at the start
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runFleet, runProbe, soakFleet, soakScenario } from '../bench/lib/soak-fleet.mjs';
import { percentile, renderMarkdown, summarizeMemory, verdict, windowHistogram } from '../bench/lib/soak-report.mjs';
import { committedRows, rssMiB, seedDevices, sleep, startSystem } from '../bench/lib/system.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string' },
    devices: { type: 'string' },
    quick: { type: 'boolean', default: false },
    // Device boots per second at the start (a faster ramp is a reconnect storm, not a soak).
    ramp: { type: 'string', default: '100' },
    out: { type: 'string', default: 'bench-results' },
    verbose: { type: 'boolean', default: false },
  },
});
const minutes = Number(args.minutes ?? (args.quick ? 1 : 30));
const devices = Number(args.devices ?? (args.quick ? 300 : 2000));
if (!(minutes > 0) || !Number.isInteger(devices) || devices < 10) {
  console.error('usage: npm run soak -- [--minutes N (> 0)] [--devices N (≥ 10)] [--quick]');
  process.exit(2);
}
const say = (m) => console.log(`soak | ${m}`);
const load0 = loadavg().map((l) => Math.round(l * 100) / 100);
const REGIONS = 5;
const runMs = minutes * 60_000;
const windowMs = minutes < 10 ? 60_000 : 300_000;
const warmupMs = Math.round(runMs * 0.2);
const judgesSlope = minutes >= 10;
const outDir = join(root, args.out);
const destFor = (interrupted) => (minutes >= 30 && !interrupted ? outDir : join(outDir, 'tmp'));
const heapDir = join(outDir, 'tmp', `soak-heap-${process.pid}`);
rmSync(heapDir, { recursive: true, force: true });
mkdirSync(heapDir, { recursive: true });
for (const f of ['apps/broker/dist/main.js', 'apps/worker/dist/main.js', 'apps/api/dist/main.js'])
  if (!readdirSync(join(root, dirname(f))).includes('main.js'))
    throw new Error(`${f} missing: run npm run build first`);

let tokens;
say(`starting the system (${devices} devices + 1 probe)…`);
const sys = await startSystem({
  root,
  label: 'soak',
  verbose: args.verbose,
  env: {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${join(root, 'bench/lib/heap-reporter.mjs')}`.trim(),
    SOAK_HEAP_DIR: heapDir,
    SOAK_HEAP_INTERVAL_MS: String(minutes < 10 ? 5000 : 15_000),
  },
  seed: async (pool) => {
    tokens = await seedDevices(pool, devices + 1, { regions: REGIONS });
  },
});
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};
const ac = new AbortController();
let stopping = false;
const stopAll = async () => {
  if (stopping) return;
  stopping = true;
  ac.abort();
  await sys.stop().catch(() => {});
};
// Ctrl-C ends the run early: the results so far go to the ignored tmp folder, marked interrupted.
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    interrupted = true;
  });

process.once('uncaughtException', (err) => {
  say(`failed: ${err?.stack ?? err}`);
  stopAll().then(() => process.exit(1));
});
process.once('unhandledRejection', (err) => {
  say(`failed: ${err?.stack ?? err}`);
  stopAll().then(() => process.exit(1));
});

const started = Date.now();
const fleet = soakFleet(tokens.slice(0, devices), REGIONS);
const scenario = soakScenario(minutes, REGIONS);
const run = await runFleet({
  fleet,
  scenario,
  mqttPort: sys.mqttPort,
  httpPort: sys.httpPort,
  rampPerSecond: Number(args.ramp),
  signal: ac.signal,
});
const probeSamples = [];
const probe = runProbe({
  sys,
  token: tokens[devices],
  name: `${String(devices).padStart(5, '0')}_MSAN`,
  everyMs: 5000,
  signal: ac.signal,
  sink: probeSamples,
}).catch((err) => say(`probe failed: ${err?.message ?? err}`));

// Sampling: RSS of each process and the ingest queue every 5 s; windows closed on the boundary.
const rss = Object.fromEntries(Object.keys(sys.pids).map((k) => [k, []]));
const queue = [];
const metricsUrl = `http://127.0.0.1:${sys.env.BROKER_HTTP_PORT}/metrics`;
const queueWaiting = async () => {
  const text = await (await fetch(metricsUrl)).text();
  const m = /spms_ingest_queue_jobs\{state="waiting"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : null;
};
const windows = [];
let prev = {
  t: started,
  raw: null,
  http: null,
  acked: 0,
  published: 0,
  rows: await committedRows(sys.pool),
  httpOk: 0,
  errors: 0,
};
const rows0 = prev.rows;
// Slopes start after the warm-up AND once the fleet is online (≥ 97 % of MQTT sessions up; the
// scenario keeps a few percent off): a fleet still connecting, or recovering from a reconnect
// storm, grows the heap by its sessions, which is load and not a leak.
const mqttDevices = fleet.devices.filter((d) => d.transport === 'mqtt').length;
let fleetOnlineAt = null;
while (Date.now() - started < runMs && !interrupted) {
  await sleep(5000);
  const t = Date.now();
  for (const [k, pid] of Object.entries(sys.pids)) if (alive(pid)) rss[k].push({ t, rss: rssMiB(pid) * 2 ** 20 });
  if (fleetOnlineAt === null && run.stats.connected >= 0.97 * mqttDevices) fleetOnlineAt = t;
  queue.push({ t, waiting: await queueWaiting().catch(() => null) });
  if (t - prev.t >= windowMs - 2500 || t - started >= runMs || interrupted) {
    const s = run.stats;
    const rows = await committedRows(sys.pool);
    const raw = s.pubackLatency.toRaw();
    const http = s.httpLatency.toRaw();
    const inWin = (x) => x.t > prev.t && x.t <= t;
    const w = {
      fromS: Math.round((prev.t - started) / 1000),
      toS: Math.round((t - started) / 1000),
      published: s.published - prev.published,
      acked: s.acked - prev.acked,
      httpOk: s.httpOk - prev.httpOk,
      puback: windowHistogram(raw, prev.raw),
      http: windowHistogram(http, prev.http),
      probePubackP99Ms: percentile(
        probeSamples.filter(inWin).map((p) => p.acked),
        0.99,
      ),
      probeVisibleP99Ms: percentile(
        probeSamples.filter(inWin).map((p) => p.visible),
        0.99,
      ),
      probeSamples: probeSamples.filter(inWin).length,
      queueWaitingMax: Math.max(0, ...queue.filter(inWin).map((q) => q.waiting ?? 0)),
      rowsCommitted: rows - prev.rows,
      connected: s.connected,
      errors: s.errors - prev.errors,
      loadAverage: round2(loadavg()[0]),
    };
    windows.push(w);
    say(
      `${w.toS} s: acked ${w.acked} (PUBACK p99 ${w.puback.p99} ms), HTTP ${w.httpOk}, probe visible p99 ${w.probeVisibleP99Ms} ms, queue ≤ ${w.queueWaitingMax}, rows +${w.rowsCommitted}, load ${w.loadAverage}`,
    );
    prev = { t, raw, http, acked: s.acked, published: s.published, rows, httpOk: s.httpOk, errors: s.errors };
  }
}
function round2(x) {
  return Math.round(x * 100) / 100;
}

// Collect before stopping: a process that died during the run is reported as such.
const processes = {};
const heapFiles = readdirSync(heapDir);
const slopeFrom = Math.max(started + warmupMs, fleetOnlineAt ?? Number.POSITIVE_INFINITY);
for (const [name, pid] of Object.entries(sys.pids)) {
  const file = heapFiles.find((f) => f === `${pid}.jsonl`);
  const heap = file
    ? readFileSync(join(heapDir, file), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : [];
  processes[name] = {
    pid,
    aliveAtEnd: alive(pid),
    memory: summarizeMemory({ heap, rss: rss[name] }, slopeFrom),
    // [s since start, retained heap MiB, RSS MiB] as the process reported it, for a second look.
    samples: heap.map((h) => [
      Math.round((h.t - started) / 1000),
      round2(h.heapUsed / 2 ** 20),
      round2(h.rss / 2 ** 20),
    ]),
  };
}
const final = run.stats.toJSON();
ac.abort();
const applied = await run.done;
await probe;
const rowsCommitted = (await committedRows(sys.pool)) - rows0;
await stopAll();
rmSync(heapDir, { recursive: true, force: true });

const elapsedS = (Date.now() - started) / 1000;
const result = {
  version: 1,
  startedAt: new Date(started).toISOString(),
  minutes,
  interrupted,
  judgesSlope,
  conditions: {
    devices,
    mqttDevices: fleet.devices.filter((d) => d.transport === 'mqtt').length,
    httpDevices: fleet.devices.filter((d) => d.transport === 'http').length,
    cycleS: minutes >= 10 ? 300 : 30,
    messagesPerSecond: Math.round((final.acked + final.httpOk) / elapsedS),
    warmupS: Math.round(warmupMs / 1000),
    fleetOnlineAtS: fleetOnlineAt === null ? null : Math.round((fleetOnlineAt - started) / 1000),
    slopesFromS: Number.isFinite(slopeFrom) ? Math.round((slopeFrom - started) / 1000) : null,
    windowS: windowMs / 1000,
    scenarioChangesApplied: applied,
    cpu: cpus()[0]?.model ?? '?',
    cores: cpus().length,
    node: process.version,
    loadAverageAtStart: load0,
    loadAverageAtEnd: loadavg().map(round2),
    note: 'shared 2-core development machine: other jobs compete for CPU during the run (see load averages)',
  },
  totals: {
    published: final.published,
    acked: final.acked,
    httpOk: final.httpOk,
    httpFailed: final.httpFailed,
    errors: final.errors,
    errorKinds: final.errorKinds,
    reboots: final.reboots,
    rowsCommitted,
    puback: final.pubackLatencyMs,
    probePublishToVisible: {
      n: probeSamples.length,
      p50: percentile(
        probeSamples.map((p) => p.visible),
        0.5,
      ),
      p99: percentile(
        probeSamples.map((p) => p.visible),
        0.99,
      ),
    },
  },
  processes,
  windows,
};
result.verdict = verdict(result);
if (interrupted) result.verdict = { ok: false, problems: ['interrupted', ...result.verdict.problems] };
const md = renderMarkdown(result);
const dest = destFor(interrupted);
mkdirSync(dest, { recursive: true });
writeFileSync(join(dest, 'soak-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(dest, 'soak-latest.md'), md);
console.log(`\n${md}`);
say(`wrote ${join(dest, 'soak-latest.json')} and soak-latest.md`);
process.exit(result.verdict.ok ? 0 : 1);
