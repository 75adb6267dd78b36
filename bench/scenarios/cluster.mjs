// Connections across broker processes: N broker processes started by the launcher (Node
// cluster workers sharing one MQTT port), a fleet of idle authenticated connections ramped at
// a fixed rate from several load processes, from loopback's own source address to several
// destination addresses (bench/lib/system.mjs, LOAD_DESTINATIONS: to one destination the
// kernel's source-port search slows with every socket held; one process holds at most
// `ulimit -n` sockets). Measures
// connections held, CONNACK p50/p99 during the ramp, RSS per process and in total and RSS
// growth per held connection, per process and overall; then the same load against a fresh
// Mosquitto in the same run (one process, so at most its open-files limit of connections).
import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createLauncherSystem } from '../lib/launcher.mjs';
import { startMosquitto } from '../lib/mosquitto.mjs';
import { cpuBudget, cpuSeconds, LISTEN_ALL, LOAD_DESTINATIONS, pct, rssMiB, sleep } from '../lib/system.mjs';
import { SHIPPED_DEFAULTS_ENV } from './auth-storm.mjs';

const round = (x, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d;
/** Width of the CONNACK-latency timeline's steps (seconds); CLUSTER_TIMELINE_STEP_S for a closer look. */
const TIMELINE_STEP_S = Number(process.env.CLUSTER_TIMELINE_STEP_S) || 5;
export const machineLoad = () => loadavg().map((l) => Math.round(l * 100) / 100);
export const cpuModel = () => `${cpus()[0]?.model ?? '?'} × ${cpus().length} cores`;

/**
 * n devices with access tokens `bench-token-<i>`, inserted 5,000 at a time (one statement for
 * 50,000 devices ran PostgreSQL out of lock memory); no lines: idle connections need none.
 */
export async function seedTokens(pool, n) {
  const { accessTokenKey } = await import('@spms/credentials');
  const tokens = Array.from({ length: n }, (_, i) => `bench-token-${i}`);
  const profile = await pool.query(
    `INSERT INTO device_profiles (id, name, updated_at) VALUES (gen_random_uuid(), 'bench', now()) RETURNING id`,
  );
  for (let from = 0; from < n; from += 5000) {
    const chunk = tokens.slice(from, from + 5000);
    await pool.query(
      `WITH d AS (
         INSERT INTO devices (id, name, profile_id, updated_at)
         SELECT gen_random_uuid(), lpad((i + $2::int)::text, 5, '0') || '_MSAN', $1, now()
         FROM generate_series(0, $3::int - 1) i RETURNING id, name)
       INSERT INTO device_credentials (device_id, type, credentials_id, updated_at)
       SELECT d.id, 'ACCESS_TOKEN', k.key, now()
       FROM d JOIN unnest($4::text[]) WITH ORDINALITY k(key, n) ON d.name = lpad((k.n - 1 + $2::int)::text, 5, '0') || '_MSAN'`,
      [profile.rows[0].id, from, chunk.length, chunk.map(accessTokenKey)],
    );
  }
  return tokens;
}

/**
 * Opens `tokens.length` connections from `loaders` processes (to LOAD_DESTINATIONS) at `rate`/s in
 * all, holds them `holdS`, reads the per-process figures through `measure()`, closes them.
 */
export async function rampConnections(root, { port, tokens, loaders, rate, holdS, tag, measure, pids = {} }) {
  const entry = join(root, 'apps/broker/dist/bench/cluster-load.js');
  const per = Math.ceil(tokens.length / loaders);
  const children = [];
  try {
    for (let k = 0; k < loaders; k++) children.push(fork(entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    // Where the ramp's CPU went, to the last CONNACK: `pids` (the brokers), each load process,
    // PostgreSQL, Redis, interrupts, the rest.
    const budget = cpuBudget({ ...pids, ...Object.fromEntries(children.map((c, k) => [`load${k + 1}`, c.pid])) });
    const t0 = performance.now();
    const ramped = await Promise.all(
      children.map((child, k) => {
        return new Promise((resolve, reject) => {
          child.once('message', resolve);
          child.once('exit', (code) => reject(new Error(`load process ${k + 1} exited ${code}`)));
          child.send({
            cmd: 'run',
            run: {
              port,
              tokens: tokens.slice(k * per, (k + 1) * per),
              tag: `${tag}-${k}`,
              hosts: LOAD_DESTINATIONS,
              ratePerSecond: rate / loaders,
            },
          });
        });
      }),
    );
    const allAnsweredS = (performance.now() - t0) / 1000;
    const cpuBudgetToLastConnack = budget();
    await sleep(holdS * 1000);
    const measured = await measure();
    const open = await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            c.once('message', (m) => resolve(m.open));
            c.send({ cmd: 'count' });
          }),
      ),
    );
    const latencies = ramped.flatMap((r) => r.latencies).sort((a, b) => a - b);
    // CONNACK latency by when the connect began (5-s steps of the ramp): where the slow ones were.
    const steps = new Map();
    for (const [at, ms] of ramped.flatMap((r) => r.timeline ?? [])) {
      const k = Math.floor(at / TIMELINE_STEP_S) * TIMELINE_STEP_S;
      if (!steps.has(k)) steps.set(k, []);
      steps.get(k).push(ms);
    }
    const connackBySecond = [...steps.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([from, xs]) => {
        xs.sort((a, b) => a - b);
        return { from, n: xs.length, p50: round(pct(xs, 0.5)), p99: round(pct(xs, 0.99)) };
      });
    const failures = {};
    for (const r of ramped) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
    return {
      attempted: tokens.length,
      held: open.reduce((s, n) => s + n, 0),
      failures,
      rampS: round(Math.max(...ramped.map((r) => r.rampS))),
      allAnsweredS: round(allAnsweredS),
      connackMs: { p50: round(pct(latencies, 0.5)), p99: round(pct(latencies, 0.99)), max: round(latencies.at(-1)) },
      cpuBudget: cpuBudgetToLastConnack,
      connackBySecond,
      ...measured,
    };
  } finally {
    for (const c of children) {
      c.removeAllListeners('exit');
      if (c.connected) c.send({ cmd: 'close' });
    }
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null ? null : Promise.race([new Promise((r) => c.once('exit', r)), sleep(10_000)]),
      ),
    );
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}

/**
 * @param p.connections, p.processes (broker processes), p.rate (connects/s), p.loaders,
 *   p.holdS, p.fdLimit; p.again: the same fleet once more to the running processes,
 *   p.againAfterS after its connections were closed
 */
export async function clusterConnections(root, p) {
  const load0 = machineLoad();
  // Who hands out the connections (scripts/process-plan.mjs): the OS (default) or the primary.
  const scheduling = process.env.CLUSTER_SCHEDULING || 'os';
  let tokens;
  const sys = await createLauncherSystem({
    root,
    label: 'cluster',
    verbose: p.verbose,
    nodeArgs: p.nodeArgs,
    // As `npm start` runs it: shipped defaults (no per-address connect limit: a loopback address
    // stands for thousands of modems behind carrier NAT) and a verified-credential cache key.
    env: { ...SHIPPED_DEFAULTS_ENV, MQTT_HOST: LISTEN_ALL },
    seed: async (pool) => {
      tokens = await seedTokens(pool, p.connections);
    },
  });
  const out = {
    conditions:
      `${p.connections} idle MQTT connections authenticated with access tokens, ramped at ${p.rate}/s from ${p.loaders} load processes ` +
      `(source address 127.0.0.1, unbound, to ${LOAD_DESTINATIONS.length} loopback destination addresses in turn), CONNACK given up after 30 s, held ${p.holdS} s (SPMS's RSS read again after ${p.settleS ?? 0} s more idle)${p.again ? `, then closed and, ${p.againAfterS} s later, the same fleet again` : ''}; SPMS: ${p.processes} broker processes ` +
      `under scripts/supervise.mjs (as npm start: shipped defaults, a verified-credential cache key, CLUSTER_SCHEDULING=${scheduling}), no worker/API/alerts; Mosquitto: one fresh process, no authentication; ` +
      `open files ${p.fdLimit ?? '?'} per process; ${cpuModel()}, load average ${load0.join(' ')} at start`,
    processes: p.processes,
    scheduling,
    loadAverage: { start: load0 },
  };
  try {
    const run = await sys.start({ broker: p.processes, worker: 0, api: 0, alerts: 0 });
    try {
      await sleep(2000);
      const rss0 = run.brokerRssMiB();
      const mem0 = await run.brokerMemoryMiB();
      // CPU the connects cost: every broker process, and the supervisor (it accepts and hands
      // each connection over with CLUSTER_SCHEDULING=primary).
      const cpuOf = () => ({
        brokers: run.brokerPids().reduce((s, pid) => s + (pid ? cpuSeconds(pid) : 0), 0),
        supervisor: cpuSeconds(run.supervisorPid),
      });
      const cpu0 = cpuOf();
      const r = await rampConnections(root, {
        port: run.mqttPort,
        tokens,
        loaders: p.loaders,
        rate: p.rate,
        holdS: p.holdS,
        tag: 'cl',
        pids: Object.fromEntries(
          run
            .brokerPids()
            .map((pid, i) => [`broker${i + 1}`, pid])
            .filter(([, pid]) => pid)
            .concat([['supervisor', run.supervisorPid]]),
        ),
        measure: async () => {
          const m = { rssMiB: run.brokerRssMiB(), perProcessHeld: await run.brokerConnections(), cpu: cpuOf() };
          // Held and idle a while longer: once connects have quietened each process collects the
          // ramp's garbage (STORM_GC_MIN_CONNECTS), so this is what the connections themselves keep.
          if (p.settleS) {
            await sleep(p.settleS * 1000);
            m.rssSettledMiB = run.brokerRssMiB();
          }
          m.memory = await run.brokerMemoryMiB();
          return m;
        },
      });
      const kib = (after, before, held) => (held ? round(((after - before) * 1024) / held) : null);
      // Where a process's RSS growth went, per held connection (KiB): V8 heap used and
      // reserved, external memory, and the rest (native: sockets, libuv, the allocator).
      const split = (i, rssAfter) => {
        const a = r.memory[i];
        const b = mem0[i];
        const held = r.perProcessHeld[i];
        if (!a || !b || !held) return null;
        const k = (x) => round((x * 1024) / held, 2);
        return {
          heapUsed: k(a.heapUsed - b.heapUsed),
          heapTotal: k(a.heapTotal - b.heapTotal),
          external: k(a.external - b.external),
          native: k(rssAfter - rss0[i] - (a.heapTotal - b.heapTotal) - (a.external - b.external)),
          stormCollections: a.stormCollections,
          stormCollectionMs: round(a.stormCollectionSeconds * 1000, 0),
        };
      };
      const perProcess = r.rssMiB.map((after, i) => ({
        rssBeforeMiB: round(rss0[i], 0),
        growthKiBPerConnection: split(i, (r.rssSettledMiB ?? r.rssMiB)[i]),
        rssAfterMiB: round(after, 0),
        held: r.perProcessHeld[i],
        perConnectionKiB: kib(after, rss0[i], r.perProcessHeld[i]),
        ...(r.rssSettledMiB
          ? {
              rssSettledMiB: round(r.rssSettledMiB[i], 0),
              perConnectionSettledKiB: kib(r.rssSettledMiB[i], rss0[i], r.perProcessHeld[i]),
            }
          : {}),
      }));
      const sum = (xs) => xs.reduce((s, x) => s + x, 0);
      const held = r.perProcessHeld.filter((x) => Number.isFinite(x));
      out.spms = {
        ...r,
        rssMiB: undefined,
        rssSettledMiB: undefined,
        memory: undefined,
        perProcessHeld: undefined,
        cpu: undefined,
        settleS: p.settleS ?? 0,
        // CPU ms per held connection over the ramp and hold (idle processes' ticks included).
        cpuMsPerConnection: r.held
          ? {
              brokers: round(((r.cpu.brokers - cpu0.brokers) * 1000) / r.held, 2),
              supervisor: round(((r.cpu.supervisor - cpu0.supervisor) * 1000) / r.held, 2),
            }
          : null,
        perProcess,
        // Evenness: the busiest process's connections over the least busy one's (1 = even).
        heldSpread: held.length > 1 && Math.min(...held) > 0 ? round(Math.max(...held) / Math.min(...held), 2) : null,
        rssBeforeMiB: round(sum(rss0), 0),
        rssAfterMiB: round(sum(r.rssMiB), 0),
        perConnectionKiB: kib(sum(r.rssMiB), sum(rss0), r.held),
        ...(r.rssSettledMiB
          ? {
              rssSettledMiB: round(sum(r.rssSettledMiB), 0),
              perConnectionSettledKiB: kib(sum(r.rssSettledMiB), sum(rss0), r.held),
            }
          : {}),
        // The whole footprint (idle processes included) over the connections held.
        totalKiBPerConnection: r.held ? round((sum(r.rssMiB) * 1024) / r.held) : null,
        loadAverageAfter: machineLoad(),
      };
      // The same fleet again, to the same processes once its connections were closed: brokers
      // that have run (compiled code), devices whose credentials are cached (in the process
      // that saw them for AUTH_CACHE_TTL_MS, in Redis for a day), as after a blackout of about
      // a minute (the wait is past the load side's TIME_WAIT). Closed cleanly, unlike a
      // blackout (sessions ended at once, none left for keep-alive or takeover to end).
      if (p.again) {
        await sleep(p.againAfterS * 1000);
        const pids = Object.fromEntries(
          run
            .brokerPids()
            .map((pid, i) => [`broker${i + 1}`, pid])
            .filter(([, pid]) => pid)
            .concat([['supervisor', run.supervisorPid]]),
        );
        const r2 = await rampConnections(root, {
          port: run.mqttPort,
          tokens,
          loaders: p.loaders,
          rate: p.rate,
          holdS: p.holdS,
          tag: 'cl', // the same client ids: the same devices back
          pids,
          measure: async () => ({ memory: await run.brokerMemoryMiB() }),
        });
        out.spmsAgain = {
          ...r2,
          memory: undefined,
          // Device authentication over both ramps, per process (the shared cache, PostgreSQL).
          auth: r2.memory.map((m) => m?.auth ?? null),
          afterS: p.againAfterS,
          loadAverageAfter: machineLoad(),
        };
      }
    } finally {
      await run.stop();
    }
    await sleep(3000);
    // Baseline: a fresh Mosquitto, the same load (as many as one process's open files allow).
    const mosq = await startMosquitto({ host: LISTEN_ALL });
    try {
      const n = Math.min(p.connections, (p.fdLimit ?? 20_000) - 500);
      const rss0 = mosq.pid ? rssMiB(mosq.pid) : null;
      const r = await rampConnections(root, {
        port: mosq.port,
        tokens: new Array(n).fill(undefined),
        loaders: p.loaders,
        rate: p.rate,
        holdS: p.holdS,
        tag: `mosq-${process.pid}`,
        pids: mosq.pid ? { mosquitto: mosq.pid } : {},
        measure: async () => ({ rssAfterMiB: mosq.pid ? rssMiB(mosq.pid) : null }),
      });
      out.mosquitto = {
        ...r,
        version: mosq.version,
        rssBeforeMiB: round(rss0, 0),
        rssAfterMiB: round(r.rssAfterMiB, 0),
        perConnectionKiB: r.held && rss0 !== null ? round(((r.rssAfterMiB - rss0) * 1024) / r.held) : null,
        loadAverageAfter: machineLoad(),
      };
    } finally {
      await mosq.stop();
    }
  } finally {
    await sys.drop();
  }
  const connackMet = (x) => x.connackMs.p99 !== null && x.connackMs.p99 <= 1000 && p.rate >= 1500;
  if (out.spmsAgain)
    out.goalAgain = {
      text: 'all back, CONNACK p99 ≤ 1 s at 1,500/s',
      met: out.spmsAgain.held === out.spmsAgain.attempted && connackMet(out.spmsAgain),
    };
  out.goal = {
    text: '≥ 50,000 held, ≤ 4 KiB RSS per connection, CONNACK p99 ≤ 1 s at 1,500/s',
    met:
      out.spms.held >= 50_000 &&
      (out.spms.perConnectionSettledKiB ?? out.spms.perConnectionKiB) !== null &&
      (out.spms.perConnectionSettledKiB ?? out.spms.perConnectionKiB) <= 4 &&
      connackMet(out.spms),
  };
  return out;
}
