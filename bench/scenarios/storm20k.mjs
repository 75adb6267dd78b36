// Grid-restore storm at 20,000 devices (and 10,000) across broker processes: the fleet's real
// MQTT Basic credentials (supplied passwords, stored with scrypt as the import stores them),
// the shipped defaults (no capacity or abuse-limit overrides; BROKER_PROCESSES and
// WORKER_PROCESSES one per core, one API and one alerts process, as `npm start`), and the
// devices coming from one source address (127.0.0.1, two load processes: one process holds
// at most `ulimit -n` sockets). Runs:
//   - Mosquitto (no auth, no durability; one fresh process per 2 load processes' worth of
//     open files): the same-run baseline for each size;
//   - cold: nothing verified anywhere yet (first start), every device costs a scrypt check;
//     limited in time, the devices it did not bring back then connect (still cold) so that
//     every device was online before the blackout;
//   - warm, 10,000 then 20,000: the shared verified-credential cache in Redis holds the fleet
//     (the devices were connected before the grid failed), and the processes are either
//     restarted after the blackout (their own caches empty, their code not yet optimised) or,
//     the real case, kept running through a blackout longer than their own caches' lifetime.
// Figures: time until all are back (CONNACK) and recorded (8 rows each committed), clients
// refused (CONNACK ≠ 0; must be 0), CONNACK p50/p99, auth counters of every broker process.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createLauncherSystem } from '../lib/launcher.mjs';
import { startMosquitto } from '../lib/mosquitto.mjs';
import { committedRows, cpuBudget, LISTEN_ALL, LOAD_DESTINATIONS, pct, sleep } from '../lib/system.mjs';
import { SHIPPED_DEFAULTS_ENV, seedBasicDevices } from './auth-storm.mjs';
import { cpuModel, machineLoad } from './cluster.mjs';

/**
 * Two load processes, both from loopback's own source address (127.0.0.1) without binding:
 * the kernel picks each source port when it connects. Binding a source address (as one
 * address per load process did) makes Linux search its bind port range (half of the
 * ephemeral ports) for every socket, which fails slowly once thousands are taken, the last
 * storm's TIME_WAIT included: 9,000 sockets bound to 127.0.0.2 took 135 s and 11 s of kernel
 * CPU in one process, 3.4 s without the bind (4 December). Every device then comes from one
 * address — a harder case for per-address limits than two — and the devices are spread over
 * several destination addresses (LOAD_DESTINATIONS), so that no destination needs more than a
 * few thousand source ports.
 */
const LOADERS = ['load1', 'load2'];
const SOURCE = '127.0.0.1';
/**
 * The "kept running" warm storm: the processes were up through the blackout (they are not on
 * the failed grid), and the blackout outlasted both their own credential caches
 * (AUTH_CACHE_TTL_MS, 5 min shipped; shortened here to PROCESS_CACHE_TTL_MS so that the run
 * does not wait 5 minutes — shorter only makes the cache colder), so every device is checked
 * against the shared cache in Redis again, and the devices' inactivity timeout (120 s, the
 * shipped profile default), so every device is offline when it returns and its return clears
 * an offline alert, as after a real island-wide blackout.
 */
const PROCESS_CACHE_TTL_MS = 20_000;
const INACTIVITY_TIMEOUT_MS = 120_000;
const RUNNING_GAP_MS = Math.max(PROCESS_CACHE_TTL_MS, INACTIVITY_TIMEOUT_MS) + 15_000;
/** PostgreSQL's and Redis's processes, by name, in a storm's CPU budget. */
/** The kernel's cap on a listening socket's accept queue (docs/scaling.md: storms overflow 4096). */
const somaxconn = () => {
  try {
    return readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim();
  } catch {
    return 'unknown';
  }
};
const round = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 100) / 100);
const now = () => performance.timeOrigin + performance.now();

/** The load processes, each with its share of the fleet. */
function startLoaders(root) {
  return LOADERS.map(() =>
    fork(join(root, 'bench/lib/storm-load.mjs'), [], { cwd: root, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }),
  );
}
const ask = (child, msg) =>
  new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`storm load process exited ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m);
    });
    child.send(msg);
  });

/** One storm: every device of `fleet` at once; `ports[k]` is where loader k connects. */
async function storm(loaders, { ports, fleet, withAuth, p, recorded, pids = {} }) {
  const halves = LOADERS.map((_, k) => fleet.filter((_, i) => i % LOADERS.length === k));
  const load0 = machineLoad();
  const budget = cpuBudget({ ...pids, ...Object.fromEntries(loaders.map((c, k) => [`load${k + 1}`, c.pid])) });
  const t0 = now();
  const parts = await Promise.all(
    loaders.map((c, k) =>
      ask(c, {
        cmd: 'go',
        run: {
          port: ports[k % ports.length],
          hosts: LOAD_DESTINATIONS,
          creds: halves[k],
          withAuth,
          timeoutS: p.timeoutS,
          rebootMs: p.rebootMs,
          connackTimeoutMs: p.connackTimeoutMs,
        },
      }),
    ),
  );
  const connected = parts.reduce((s, x) => s + x.connected, 0);
  // Recorded = every device's burst committed; not waited for when some never got in.
  const tRecorded = recorded && connected === fleet.length ? await recorded(t0) : null;
  const cpu = budget();
  const ms = parts.flatMap((x) => x.connackMs).sort((a, b) => a - b);
  const at = parts.flatMap((x) => x.connectedAt.map((t) => t - t0)).sort((a, b) => a - b);
  const sum = (k) => parts.reduce((s, x) => s + x[k], 0);
  const merge = (k) => {
    const o = {};
    for (const x of parts) for (const [key, v] of Object.entries(x[k])) o[key] = (o[key] ?? 0) + v;
    return o;
  };
  const last = (k) => (parts.every((x) => x[k] !== null) ? Math.max(...parts.map((x) => x[k])) : null);
  return {
    devices: fleet.length,
    connected,
    refused: sum('refused'),
    refusalsByCode: merge('refusals'),
    errors: sum('errors'),
    errorKinds: merge('errorKinds'),
    allConnectedS:
      connected === fleet.length && last('lastConnected') ? round((last('lastConnected') - t0) / 1000) : null,
    allBootBurstsAckedS:
      connected === fleet.length && last('lastBooted') ? round((last('lastBooted') - t0) / 1000) : null,
    allRecordedS: tRecorded === null ? null : round((tRecorded - t0) / 1000),
    connackMs: { p50: round(pct(ms, 0.5)), p99: round(pct(ms, 0.99)), max: round(ms.at(-1)) },
    connectedAfterS: { p50: round(pct(at, 0.5) / 1000), p99: round(pct(at, 0.99) / 1000) },
    // Indexes into `fleet` of the devices that got in (the loaders were given every other one).
    connectedIdx: parts.flatMap((x, k) => x.connectedIdx.map((j) => j * LOADERS.length + k)),
    loadAverage: { before: load0, after: machineLoad() },
    cpu,
  };
}
const blackout = (loaders) => Promise.all(loaders.map((c) => ask(c, { cmd: 'blackout' })));

function metric(text, line) {
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}
/** Auth counters summed over every broker process. */
async function authMetrics(ports) {
  const texts = await Promise.all(
    ports.map((port) =>
      fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => ''),
    ),
  );
  const total = (line) => texts.reduce((s, t) => s + metric(t, line), 0);
  return {
    hashes: total('spms_broker_auth_hashes_total '),
    dbQueries: total('spms_broker_auth_db_queries_total '),
    sharedHits: total('spms_broker_auth_shared_cache_total{result="hit"} '),
    sharedStored: total('spms_broker_auth_shared_cache_total{result="stored"} '),
    refusedVerifyBusy: total('spms_broker_refusals_total{reason="verify_busy"} '),
  };
}

/**
 * @param p.sizes warm storm sizes, e.g. [10000, 20000]; p.coldTimeoutS, p.timeoutS (per warm
 *   storm), p.rebootMs, p.connackTimeoutMs, p.fdLimit, p.brokers/p.workers (default: one per core)
 */
export async function storm20k(root, p) {
  const n = Math.max(...p.sizes);
  const cores = availableParallelism();
  const counts = { broker: p.brokers ?? cores, worker: p.workers ?? cores, api: 1, alerts: 1 };
  const load0 = machineLoad();
  let creds;
  const t0 = performance.now();
  const sys = await createLauncherSystem({
    root,
    label: 'storm20k',
    verbose: p.verbose,
    // Every loopback address, for the load's destinations (the shipped MQTT_HOST is 0.0.0.0 too);
    // the per-process credential cache's lifetime short enough to outlast (see RUNNING_GAP_MS).
    env: { ...SHIPPED_DEFAULTS_ENV, MQTT_HOST: LISTEN_ALL, AUTH_CACHE_TTL_MS: String(PROCESS_CACHE_TTL_MS) },
    seed: async (pool) => {
      creds = await seedBasicDevices(pool, n);
    },
  });
  const out = {
    conditions:
      `${p.sizes.join(' and ')} devices with MQTT Basic credentials (supplied passwords, scrypt as imported) reconnect at once from ` +
      `one source address (${SOURCE}, unbound: the kernel picks source ports at connect; ${LOADERS.length} load processes) ` +
      `to ${LOAD_DESTINATIONS.length} loopback destination addresses in turn, each then sends its 8-message boot burst (QoS 1); ` +
      `a refused or failed connect reboots the device (retry after ${p.rebootMs} ms); CONNACK timeout ${p.connackTimeoutMs} ms; ` +
      `shipped defaults (no limit overrides), ${counts.broker} broker, ${counts.worker} worker, 1 API and 1 alerts process under scripts/supervise.mjs; ` +
      `warm = the shared verified-credential cache in Redis holding the fleet, with the processes either restarted after the blackout ` +
      `or kept running through it (then ${RUNNING_GAP_MS / 1000} s of blackout, past their own caches' lifetime, AUTH_CACHE_TTL_MS ${PROCESS_CACHE_TTL_MS} instead of 300000, ` +
      `and past the devices' ${INACTIVITY_TIMEOUT_MS / 1000} s inactivity timeout: they return offline); ` +
      `${cpuModel()}, load average ${load0.join(' ')} at start; kernel accept queue cap net.core.somaxconn ${somaxconn()}`,
    processes: counts,
    seedS: round((performance.now() - t0) / 1000),
    loadAverage: { start: load0 },
    mosquitto: {},
    warm: {},
    warmRunning: {},
  };
  const loaders = startLoaders(root);
  let recordedBase = 0;
  const recordedAll = (count) => async (tStart) => {
    const limit = tStart + (p.timeoutS + 60) * 1000;
    while (now() < limit) {
      if ((await committedRows(sys.pool)) - recordedBase >= count * 8) return now();
      await sleep(250);
    }
    return null;
  };
  try {
    // Baselines: Mosquitto, as many fresh processes as the open-files limit needs.
    for (const size of p.sizes) {
      const count = Math.ceil(size / ((p.fdLimit ?? 20_000) - 1000));
      const mosqs = [];
      try {
        for (let i = 0; i < count; i++) mosqs.push(await startMosquitto({ host: LISTEN_ALL }));
        const r = await storm(loaders, {
          ports: mosqs.map((m) => m.port),
          fleet: creds.slice(0, size),
          withAuth: false,
          p,
        });
        await blackout(loaders);
        out.mosquitto[size] = { ...r, connectedIdx: undefined, processes: count, version: mosqs[0].version };
      } finally {
        for (const m of mosqs) await m.stop();
      }
      await sleep(3000);
    }

    // Cold: first start, nothing verified anywhere.
    let run = await sys.start(counts);
    await sleep(5000);
    {
      recordedBase = await committedRows(sys.pool);
      const before = await authMetrics(run.brokerHttpPorts);
      const r = await storm(loaders, {
        ports: [run.mqttPort],
        fleet: creds,
        withAuth: true,
        p: { ...p, timeoutS: p.coldTimeoutS },
        recorded: recordedAll(n),
        pids: run.pids(),
      });
      const after = await authMetrics(run.brokerHttpPorts);
      r.auth = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]));
      const got = new Set(r.connectedIdx);
      const missing = creds.filter((_, i) => !got.has(i));
      out.cold = { ...r, connectedIdx: undefined, timeLimitS: p.coldTimeoutS };
      // Every device online once before the blackout (still cold checks for these).
      const t1 = performance.now();
      const fill = missing.length
        ? await storm(loaders, {
            ports: [run.mqttPort],
            fleet: missing,
            withAuth: true,
            p: { ...p, timeoutS: p.fillTimeoutS },
          })
        : { connected: 0 };
      out.fleetCompletedBeforeBlackout = {
        devices: missing.length,
        // the load processes count every connection they hold, the cold storm's included
        connected: missing.length ? fill.connected - r.connected : 0,
        seconds: round((performance.now() - t1) / 1000),
      };
      await blackout(loaders);
      await run.stop();
    }
    // Warm storms, smallest first: fresh processes before each (their own caches empty, their
    // code not yet optimised: harsher than a real blackout), then the same processes again after
    // a blackout longer than their own caches' lifetime (the real case).
    const warmStorm = async (size) => {
      recordedBase = await committedRows(sys.pool);
      const before = await authMetrics(run.brokerHttpPorts);
      const r = await storm(loaders, {
        ports: [run.mqttPort],
        fleet: creds.slice(0, size),
        withAuth: true,
        p,
        recorded: recordedAll(size),
        pids: run.pids(),
      });
      const after = await authMetrics(run.brokerHttpPorts);
      r.auth = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]));
      await blackout(loaders);
      const limitS = size <= 10_000 ? 15 : 30;
      return {
        ...r,
        connectedIdx: undefined,
        goal: {
          text: `all ${size} back and recorded within ${limitS} s, none refused`,
          met: r.connected === size && r.refused === 0 && r.allRecordedS !== null && r.allRecordedS <= limitS,
        },
      };
    };
    for (const size of p.sizes) {
      await sleep(3000);
      run = await sys.start(counts);
      try {
        // Processes up and settled (connections to Redis and PostgreSQL open) before the grid returns.
        await sleep(5000);
        out.warm[size] = await warmStorm(size);
        await sleep(RUNNING_GAP_MS);
        const offline = await sys.pool.query('SELECT count(*)::int AS n FROM device_state WHERE NOT active');
        out.warmRunning[size] = { ...(await warmStorm(size)), offlineAtStart: offline.rows[0].n };
      } finally {
        await run.stop();
      }
    }
  } finally {
    for (const c of loaders) if (c.connected) c.send({ cmd: 'exit' });
    await sleep(500);
    for (const c of loaders) if (c.exitCode === null) c.kill('SIGKILL');
    await sys.drop();
  }
  out.loadAverage.end = machineLoad();
  return out;
}
