// The system under test for the multi-process scenarios (cluster, storm20k, scaling): a fresh
// database and Redis prefix, and the processes started the way `npm start` starts them —
// scripts/supervise.mjs with BROKER_PROCESSES, WORKER_PROCESSES, API_PROCESSES and
// ALERTS_PROCESSES (brokers are Node cluster workers sharing one MQTT port). Only the build
// and migration steps of `npm start` are left out (the suite builds once and migrates here).
// The supervisor runs in its own process group, so a crashed bench still ends every process.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import pg from 'pg';
import { rssMiB, sleep } from './system.mjs';

function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * The lowest ephemeral port: the system hands ports from there up to every outgoing
 * connection (the load generators' tens of thousands, the processes' PostgreSQL and Redis
 * connections). A port picked inside that range and free when checked can be taken by one of
 * them before the process that was meant to listen on it starts — it happened between the
 * storms, when the processes are restarted and every device is reconnecting — so the
 * launcher's ports all come from below it.
 */
function ephemeralLow() {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

/**
 * A base port whose base + 2i (i < count) are all free, below the ephemeral range and not in
 * `taken` (ports already handed out: the MQTT port is free whenever the processes are
 * stopped); the block is added to `taken`.
 */
async function freeBase(count, taken) {
  const span = Math.floor((ephemeralLow() - 10_000 - 2 * count) / 2);
  for (let tries = 0; tries < 200; tries++) {
    const base = 10_000 + 2 * Math.floor(Math.random() * span);
    const block = Array.from({ length: count }, (_, i) => base + 2 * i);
    // The processes also listen on base + 2i + 1 (e.g. a WebSocket port beside MQTT).
    if (block.some((p) => taken.has(p) || taken.has(p + 1) || taken.has(p - 1))) continue;
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await portFree(block[i]);
    if (ok) {
      for (const p of block) taken.add(p);
      return base;
    }
  }
  throw new Error('no free block of ports for the per-process metrics ports');
}

const running = new Set();
const killAll = () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {}
  }
};
process.once('exit', killAll);
// Ctrl-C or a timeout's SIGTERM skips 'exit' handlers: end the process groups first.
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    killAll();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });

/**
 * @param opts.root repository root; opts.label name part; opts.env overrides (e.g. the
 *   shipped-defaults environment); opts.seed(pool) seeds the database before any process starts
 */
export async function createLauncherSystem(opts) {
  const server = 'postgresql://postgres@127.0.0.1:5432/postgres';
  const redisUrl = 'redis://127.0.0.1:6379';
  const id = randomBytes(4).toString('hex');
  const dbName = `spms_bench_${opts.label}_${id}`;
  const prefix = `spmsbench-${opts.label}-${id}`;
  const dbUrl = Object.assign(new URL(server), { pathname: `/${dbName}` }).toString();
  const migrate = spawnSync(process.execPath, ['packages/db/dist/bin/migrate.js', '--create-database'], {
    cwd: opts.root,
    env: { ...process.env, DATABASE_URL: dbUrl },
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migration failed: ${migrate.stderr}`);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const dropDatabase = async () => {
    await pool.end().catch(() => {});
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    await c.end();
  };
  try {
    if (opts.seed) await opts.seed(pool);
  } catch (err) {
    await dropDatabase();
    throw err;
  }
  const taken = new Set();
  const mqttPort = await freeBase(1, taken);
  let current = null;

  /** Starts the planned processes; counts = { broker, worker, api, alerts }. */
  const start = async (counts) => {
    if (current) throw new Error('processes already running');
    // One after the other, each block kept out of the next ones (only the MQTT port carries over).
    const ports = new Set([mqttPort]);
    const brokerBase = await freeBase(counts.broker, ports);
    const workerBase = await freeBase(counts.worker, ports);
    const apiBase = await freeBase(counts.api, ports);
    const alertsBase = await freeBase(counts.alerts, ports);
    const httpPort = await freeBase(1, ports);
    const env = {
      ...process.env,
      DATABASE_URL: dbUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(mqttPort),
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: String(brokerBase),
      WORKER_HTTP_HOST: '127.0.0.1',
      WORKER_HTTP_PORT: String(workerBase),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      API_METRICS_PORT: String(apiBase),
      ALERTS_HTTP_PORT: String(alertsBase),
      SPMS_ADMIN_API_KEY: randomBytes(24).toString('hex'),
      BROKER_PROCESSES: String(counts.broker),
      WORKER_PROCESSES: String(counts.worker),
      API_PROCESSES: String(counts.api),
      ALERTS_PROCESSES: String(counts.alerts),
      ...opts.env,
    };
    // opts.nodeArgs (e.g. --cpu-prof) reach the supervisor and, through cluster.fork's execArgv, the brokers.
    const sup = spawn(process.execPath, [...(opts.nodeArgs ?? []), 'scripts/supervise.mjs'], {
      cwd: opts.root,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(sup.pid);
    // "spms: broker2 started (pid 1234)" → the pid of each labelled process.
    const pids = {};
    let buf = '';
    let tail = ''; // the last output, for the error when a process does not come up
    const keep = (d) => {
      tail = (tail + d).slice(-1500);
    };
    sup.stdout.on('data', (d) => {
      keep(d);
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) {
        const m = /^spms: (\S+) started \(pid (\d+)\)/.exec(l);
        if (m) pids[m[1]] = Number(m[2]);
        else if (opts.verbose) process.stderr.write(`${l}\n`);
      }
    });
    sup.stderr.on('data', (d) => {
      keep(d);
      if (opts.verbose) process.stderr.write(d);
    });
    const brokerHttpPorts = Array.from({ length: counts.broker }, (_, i) => brokerBase + 2 * i);
    const stopProcs = async () => {
      if (sup.exitCode === null && sup.signalCode === null) {
        const exited = new Promise((r) => sup.once('exit', r));
        sup.kill('SIGTERM');
        await Promise.race([exited, sleep(20_000)]);
      }
      try {
        process.kill(-sup.pid, 'SIGKILL');
      } catch {}
      running.delete(sup.pid);
      current = null;
    };
    current = { stop: stopProcs };
    try {
      for (const port of brokerHttpPorts)
        for (let t = 0; ; t++) {
          const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) break;
          if (t > 600 || sup.exitCode !== null) throw new Error(`broker on :${port} not ready: ${tail}`);
          await sleep(200);
        }
      for (let i = 0; i < counts.worker; i++)
        for (let t = 0; ; t++) {
          const ok = await fetch(`http://127.0.0.1:${workerBase + 2 * i}/healthz`).then(
            (r) => r.ok,
            () => false,
          );
          if (ok) break;
          if (t > 600 || sup.exitCode !== null) throw new Error(`worker ${i + 1} not ready: ${tail}`);
          await sleep(200);
        }
    } catch (err) {
      await stopProcs();
      throw err;
    }
    const brokerPids = () =>
      Array.from({ length: counts.broker }, (_, i) => pids[counts.broker > 1 ? `broker${i + 1}` : 'broker']);
    return {
      counts,
      env,
      mqttPort,
      brokerHttpPorts,
      pids: () => ({ ...pids }),
      /** The supervisor: with CLUSTER_SCHEDULING=primary it accepts every connection. */
      supervisorPid: sup.pid,
      brokerPids,
      /** RSS (MiB) of each broker process, in order. */
      brokerRssMiB: () => brokerPids().map((pid) => (pid ? rssMiB(pid) : 0)),
      /** Each broker process's V8 heap used/total and external memory, MiB (default process
       *  metrics), and its full collections after connect storms (count, pause seconds). */
      brokerMemoryMiB: () =>
        Promise.all(
          brokerHttpPorts.map((port) =>
            fetch(`http://127.0.0.1:${port}/metrics`)
              .then((r) => r.text())
              .then((t) => {
                const mib = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(t)?.[1] ?? Number.NaN) / 2 ** 20;
                return {
                  heapUsed: mib('spms_broker_nodejs_heap_size_used_bytes'),
                  heapTotal: mib('spms_broker_nodejs_heap_size_total_bytes'),
                  external: mib('spms_broker_nodejs_external_memory_bytes'),
                  stormCollections: mib('spms_broker_storm_collections_total') * 2 ** 20,
                  stormCollectionSeconds: mib('spms_broker_storm_collection_seconds_total') * 2 ** 20,
                  // Device authentication so far: the shared cache's answers and PostgreSQL look-ups.
                  auth: Object.fromEntries(
                    ['hit', 'miss', 'stored', 'stale', 'error']
                      .map((r) => [
                        r,
                        Number(
                          new RegExp(`^spms_broker_auth_shared_cache_total\\{result="${r}"\\} (\\S+)$`, 'm').exec(
                            t,
                          )?.[1],
                        ),
                      ])
                      .concat([['dbQueries', mib('spms_broker_auth_db_queries_total') * 2 ** 20]]),
                  ),
                };
              })
              .catch(() => null),
          ),
        ),
      /** spms_broker_connections of each broker process, in order. */
      brokerConnections: () =>
        Promise.all(
          brokerHttpPorts.map((port) =>
            fetch(`http://127.0.0.1:${port}/metrics`)
              .then((r) => r.text())
              .then((t) => Number(/^spms_broker_connections (\S+)$/m.exec(t)?.[1] ?? Number.NaN))
              .catch(() => Number.NaN),
          ),
        ),
      stop: stopProcs,
    };
  };

  const drop = async () => {
    await current?.stop();
    await dropDatabase();
    const { Redis } = await import('ioredis');
    const r = new Redis(redisUrl);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
    r.disconnect();
  };
  return { dbUrl, dbName, prefix, redisUrl, mqttPort, pool, start, drop };
}
