// Scaling curve: the same database and load with 1, 2, … up to `nproc` broker processes
// under the launcher (worker processes fixed at one per core, no API or alerts), each figure
// beside the 1-process figure of the same run:
//   - ingest: QoS 1 PUBLISH → rows committed, offered above capacity (as scenario 1);
//   - connect rate: a fleet of idle authenticated connections offered at a high rate from
//     several load processes; accepted connects per second until the last CONNACK.
import { availableParallelism } from 'node:os';
import { loadTestParallel } from '@spms/simulator';
import { createLauncherSystem } from '../lib/launcher.mjs';
import { committedRows, seedDevices, sleep, tokenFleet } from '../lib/system.mjs';
import { cpuModel, machineLoad, rampConnections } from './cluster.mjs';

const round = (x, d = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d;

/** Offered QoS 1 load for p.seconds; rows committed per second from the first row to the last. */
async function ingest(sys, run, tokens, p) {
  const base = await committedRows(sys.pool);
  const samples = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      samples.push([performance.now(), (await committedRows(sys.pool)) - base]);
      await sleep(500);
    }
  })();
  const r = await loadTestParallel({
    mqttUrl: `mqtt://127.0.0.1:${run.mqttPort}`,
    fleet: tokenFleet(tokens.slice(0, p.devices)),
    devices: p.devices,
    rate: p.rate,
    durationS: p.seconds,
    rampPerSecond: 5000,
    boot: false,
    qos: 1,
    workers: 1,
    maxInflight: p.devices * 4,
  });
  const loadEnd = performance.now();
  const acked = r.stats.acked;
  for (let still = 0, last = -1; performance.now() - loadEnd < 60_000; ) {
    const n = samples.at(-1)?.[1] ?? 0;
    if (n >= acked) break;
    still = n === last ? still + 1 : 0;
    last = n;
    if (still >= 20) break;
    await sleep(500);
  }
  polling = false;
  await poller;
  const rows = samples.at(-1)?.[1] ?? 0;
  const first = samples.find(([, n]) => n > 0)?.[0] ?? loadEnd;
  const done = samples.find(([, n]) => n >= rows)?.[0] ?? performance.now();
  return {
    acked,
    pubackRate: Math.round(acked / r.durationS),
    rowsCommitted: rows,
    endToEndRate: done > first ? Math.round(rows / ((done - first) / 1000)) : null,
    pubackMs: r.stats.pubackLatencyMs,
  };
}

/**
 * @param p.maxProcesses (default nproc), p.workers (default nproc), p.ingest {devices, rate,
 *   seconds}, p.connect {connections, rate, loaders}
 */
export async function scalingCurve(root, p) {
  const cores = availableParallelism();
  const maxProcesses = p.maxProcesses ?? cores;
  const workers = p.workers ?? cores;
  const load0 = machineLoad();
  let tokens;
  const sys = await createLauncherSystem({
    root,
    label: 'scaling',
    verbose: p.verbose,
    env: { MAX_CONNECTIONS: '0', CONNECT_RATE_PER_IP: '0', AUTH_FAILURES_PER_IP: '0', DEVICE_MSG_RATE: '0' },
    seed: async (pool) => {
      tokens = await seedDevices(pool, Math.max(p.ingest.devices, p.connect.connections));
    },
  });
  const out = {
    conditions:
      `1…${maxProcesses} broker processes under scripts/supervise.mjs with ${workers} worker processes, no API or alerts; ` +
      `ingest: ${p.ingest.devices} devices, QoS 1, up to 4 in flight each, offered ${p.ingest.rate} msg/s for ${p.ingest.seconds} s, rows committed counted; ` +
      `connect: ${p.connect.connections} access-token connections offered at ${p.connect.rate}/s from ${p.connect.loaders} load processes (127.0.0.1–${p.connect.loaders}), ` +
      `rate = connections held / time to the last CONNACK; ${cpuModel()}, load average ${load0.join(' ')} at start`,
    loadAverage: { start: load0 },
    points: [],
  };
  try {
    for (let k = 1; k <= maxProcesses; k++) {
      const run = await sys.start({ broker: k, worker: workers, api: 0, alerts: 0 });
      const point = { brokers: k, loadAverageBefore: machineLoad() };
      try {
        await sleep(2000);
        point.ingest = await ingest(sys, run, tokens, p.ingest);
        await sleep(2000);
        const c = await rampConnections(root, {
          port: run.mqttPort,
          tokens: tokens.slice(0, p.connect.connections),
          loaders: p.connect.loaders,
          rate: p.connect.rate,
          holdS: 1,
          tag: `sc${k}`,
          measure: async () => ({}),
        });
        point.connect = {
          attempted: c.attempted,
          held: c.held,
          failures: c.failures,
          allAnsweredS: c.allAnsweredS,
          connectsPerSecond: c.allAnsweredS ? Math.round(c.held / c.allAnsweredS) : null,
          connackMs: c.connackMs,
        };
        point.loadAverageAfter = machineLoad();
      } finally {
        await run.stop();
      }
      out.points.push(point);
      await sleep(3000);
    }
  } finally {
    await sys.drop();
  }
  const one = out.points[0];
  for (const pt of out.points) {
    pt.ingestRatio =
      one?.ingest?.endToEndRate && pt.ingest?.endToEndRate
        ? round(pt.ingest.endToEndRate / one.ingest.endToEndRate, 2)
        : null;
    pt.connectRatio =
      one?.connect?.connectsPerSecond && pt.connect?.connectsPerSecond
        ? round(pt.connect.connectsPerSecond / one.connect.connectsPerSecond, 2)
        : null;
  }
  out.loadAverage.end = machineLoad();
  return out;
}
