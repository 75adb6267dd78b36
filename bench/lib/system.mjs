// The system under test for `npm run bench`: a fresh database and Redis prefix, broker,
// worker and API as child processes (the built dist/main.js, as `npm start` runs them),
// loopback only, everything removed again by stop(). Also /proc readers for CPU and memory.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../scripts/lib/ports.mjs';

export { freePort };

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const pct = (sorted, p) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : null;

const CLK = 100; // USER_HZ on Linux
/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK;
  } catch {
    return 0;
  }
}
export function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
/**
 * Where the load generators of the multi-process scenarios connect: the broker port on these
 * loopback destination addresses in turn (the brokers then listen on every address,
 * `LISTEN_ALL`), from loopback's own source address without binding one. Linux picks a
 * connect's source port per destination: to one destination it walks the ephemeral range
 * (even ports first) past every port already connected there, so the walk grows with the
 * sockets held — 18,000 sockets to one address took 4.5 s and 4.0 s of kernel CPU in the
 * connecting process, 0.6 s over four (a plain Node script, 4 December 2026). Binding a
 * source address is slower still (bench/scenarios/storm20k.mjs).
 */
export const LOAD_DESTINATIONS = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);
export const LISTEN_ALL = '0.0.0.0';

/** CPU seconds (user + system) used so far by every process whose name (/proc/<pid>/comm) is
 *  one of `names`, summed per name: e.g. every PostgreSQL backend. A process that exits within
 *  a window takes its seconds with it. */
export function cpuSecondsByName(names) {
  const out = Object.fromEntries(names.map((n) => [n, 0]));
  let pids = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let comm;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm in out) out[comm] += cpuSeconds(pid);
  }
  return out;
}
/** Machine-wide CPU seconds so far, all cores, from /proc/stat's cpu line: `busy` is user,
 *  nice, system, irq and softirq (not idle, iowait, or steal, the hypervisor's); `irq` is
 *  interrupts and softirqs alone (on loopback, most of TCP's receive path, which no process is
 *  charged for). NaN when it cannot be read. */
function machineCpuSeconds() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq] = f;
    return { busy: (user + nice + system + irq + softirq) / CLK, irq: (irq + softirq) / CLK };
  } catch {
    return { busy: Number.NaN, irq: Number.NaN };
  }
}
export const machineIrqSeconds = () => machineCpuSeconds().irq;
export const machineBusySeconds = () => machineCpuSeconds().busy;
/** Machine-wide TCP listen-queue overflows so far (SYNs dropped because an accept queue was full). */
export function listenOverflows() {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const keys = lines[i].split(' ');
    const vals = lines[i + 1].split(' ');
    return Number(vals[keys.indexOf('ListenOverflows')]);
  } catch {
    return null;
  }
}
/** CPU seconds each pid used over a window, and the window's length: call it, later call what
 *  it returns (a pid that exited meanwhile reads 0, so its delta is negative). */
export function cpuSecondsMeter(pids) {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  return () => ({
    wallS: (performance.now() - t0) / 1000,
    seconds: Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid) - c0[k]])),
  });
}
/** PostgreSQL's and Redis's processes, by name (/proc/<pid>/comm), for cpuBudget. */
const SERVICES = { postgres: 'postgres', redis: 'redis-server' };
const round2 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 100) / 100);

/**
 * Where a window's CPU went (a storm, a ramp): machine-wide busy core-seconds from the call to
 * the call of what it returns, the `pids` given (SPMS processes, load processes) each, PostgreSQL's
 * and Redis's (every process of that name on the machine, so other work on the machine counts
 * there too), interrupts and softirqs (`irq`: on loopback most of TCP's receive path, charged
 * to no process), and `other`: the rest (the kernel's other work, the benchmark's own polling,
 * anything else running). busy ÷ cores is the least wall time the same work — load generators
 * and all — could take on this machine.
 */
export function cpuBudget(pids) {
  const busy0 = machineBusySeconds();
  const irq0 = machineIrqSeconds();
  const services0 = cpuSecondsByName(Object.values(SERVICES));
  const stop = cpuSecondsMeter(pids);
  return () => {
    const busyCoreS = machineBusySeconds() - busy0;
    const services = cpuSecondsByName(Object.values(SERVICES));
    const { wallS, seconds } = stop();
    // a process that exited meanwhile reads 0: left out rather than counted negative
    const byProcess = Object.fromEntries(
      Object.entries(seconds)
        .filter(([, v]) => v >= 0)
        .map(([k, v]) => [k, round2(v)]),
    );
    for (const [k, name] of Object.entries(SERVICES)) byProcess[k] = round2(services[name] - services0[name]);
    byProcess.irq = round2(machineIrqSeconds() - irq0);
    byProcess.other = round2(busyCoreS - Object.values(byProcess).reduce((a, b) => a + b, 0));
    return {
      wallS: round2(wallS),
      busyCoreS: round2(busyCoreS),
      floorS: round2(busyCoreS / availableParallelism()),
      byProcess,
    };
  };
}
/** CPU % (100 = one core) of each pid over a window: call start(), later stop(). */
export function cpuMeter(pids) {
  const stop = cpuSecondsMeter(pids);
  return () => {
    const { wallS, seconds } = stop();
    return Object.fromEntries(Object.entries(seconds).map(([k, v]) => [k, Math.round((100 * v) / wallS)]));
  };
}

async function waitFor(fn, what, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

/**
 * @param opts.root repository root; opts.label name part; opts.profileDir → --cpu-prof broker/worker
 */
export async function startSystem(opts) {
  const server = opts.databaseServer ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const redisUrl = opts.redisUrl ?? 'redis://127.0.0.1:6379';
  const id = randomBytes(4).toString('hex');
  const dbName = `spms_bench_${opts.label}_${id}`;
  const prefix = `spmsbench-${opts.label}-${id}`;
  const dbUrl = Object.assign(new URL(server), { pathname: `/${dbName}` }).toString();
  const adminKey = randomBytes(24).toString('hex');
  const children = {};
  const admin = async (sql) => {
    const c = new pg.Client({ connectionString: server });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  const migrate = spawnSync(process.execPath, ['packages/db/dist/bin/migrate.js', '--create-database'], {
    cwd: opts.root,
    env: { ...process.env, DATABASE_URL: dbUrl },
    encoding: 'utf8',
  });
  if (migrate.status !== 0) throw new Error(`migration failed: ${migrate.stderr}`);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const [mqttPort, brokerHttp, httpPort, workerHttp] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const env = {
    ...process.env,
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: String(mqttPort),
    BROKER_HTTP_HOST: '127.0.0.1',
    BROKER_HTTP_PORT: String(brokerHttp),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    API_METRICS_PORT: '0',
    WORKER_HTTP_HOST: '127.0.0.1',
    WORKER_HTTP_PORT: String(workerHttp),
    SPMS_ADMIN_API_KEY: adminKey,
    // Capacity, not abuse limits: every simulated device shares 127.0.0.x, where the
    // per-IP connect and auth-failure limits would refuse a storm by design.
    MAX_CONNECTIONS: '0',
    CONNECT_RATE_PER_IP: '0',
    AUTH_FAILURES_PER_IP: '0',
    DEVICE_MSG_RATE: '0',
    // The latency probe reads the API several times a second with one key.
    API_RATE_LIMIT_MAX: '0',
    API_RATE_LIMIT_PER_IP_MAX: '0',
    ...opts.env,
  };
  const spawnApp = (name, entry) => {
    const prof = opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(opts.profileDir, name)}`] : [];
    const child = spawn(process.execPath, [...prof, entry], {
      cwd: opts.root,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d) => {
      if (opts.verbose) process.stderr.write(`${name} | ${d}`);
    });
    children[name] = child;
    return child;
  };
  const stop = async () => {
    for (const c of Object.values(children)) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      Object.values(children).map((c) =>
        c.exitCode !== null ? null : Promise.race([new Promise((r) => c.once('exit', r)), sleep(15_000)]),
      ),
    );
    for (const c of Object.values(children)) if (c.exitCode === null) c.kill('SIGKILL');
    await pool.end().catch(() => {});
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
    const { deleteKeys } = await import('@spms/testing');
    await deleteKeys(redisUrl, `${prefix}:`);
  };
  try {
    if (opts.seed) await opts.seed(pool);
    spawnApp('broker', 'apps/broker/dist/main.js');
    spawnApp('worker', 'apps/worker/dist/main.js');
    spawnApp('api', 'apps/api/dist/main.js');
    await waitFor(() => fetch(`http://127.0.0.1:${brokerHttp}/readyz`).then((r) => r.ok), 'broker');
    await waitFor(() => fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.status < 500), 'api');
    await waitFor(() => fetch(`http://127.0.0.1:${workerHttp}/healthz`).then((r) => r.ok), 'worker');
    for (const [n, c] of Object.entries(children)) if (c.exitCode !== null) throw new Error(`${n} exited`);
  } catch (err) {
    await stop();
    throw err;
  }
  const api = async (path) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return res.json();
  };
  return {
    dbUrl,
    dbName,
    prefix,
    redisUrl,
    mqttPort,
    httpPort,
    adminKey,
    pool,
    env,
    api,
    pids: Object.fromEntries(Object.entries(children).map(([k, c]) => [k, c.pid])),
    stop,
  };
}

/**
 * Devices per INSERT when seeding: 20,000 devices with their 8 lines each in one statement
 * ran PostgreSQL out of shared memory (and 50,000 credentials rows in one did too).
 */
export const SEED_CHUNK = 2500;

/**
 * Inserts n devices `00000_MSAN`, `00001_MSAN`, … under one 'bench' profile, regions
 * `Region <i % regions>`, 8 labelled lines each, SEED_CHUNK devices a statement. Returns
 * their ids (index = simulator device index).
 */
export async function insertFleet(pool, n, { regions = 5 } = {}) {
  const profile = await pool.query(
    `INSERT INTO device_profiles (id, name, updated_at) VALUES (gen_random_uuid(), 'bench', now()) RETURNING id`,
  );
  const ids = [];
  for (let from = 0; from < n; from += SEED_CHUNK) {
    const { rows } = await pool.query(
      `WITH d AS (
         INSERT INTO devices (id, name, region, profile_id, updated_at)
         SELECT gen_random_uuid(), lpad(i::text, 5, '0') || '_MSAN', 'Region ' || (i % $3::int), $4, now()
         FROM generate_series($1::int, $2::int - 1) i RETURNING id, name),
       l AS (
         INSERT INTO device_lines (device_id, number, label)
         SELECT d.id, l, CASE l WHEN 1 THEN 'CEB' WHEN 8 THEN 'MSAN' ELSE 'TP ' || l END
         FROM d CROSS JOIN generate_series(1, 8) l)
       SELECT id FROM d ORDER BY name`,
      [from, Math.min(n, from + SEED_CHUNK), regions, profile.rows[0].id],
    );
    for (const r of rows) ids.push(r.id);
  }
  return ids;
}

/**
 * Inserts one `type` credentials row per device id, SEED_CHUNK a statement; `columns` maps
 * each further text column (credentials_id, client_id, username, password_hash) to its
 * values, in the order of `ids`.
 */
export async function insertCredentials(pool, ids, type, columns) {
  const names = Object.keys(columns);
  const unnest = names.map((_, i) => `$${i + 2}::text[]`).join(', ');
  // `type` is one of the bench's own constants (an enum column: a literal, not a text parameter).
  const sql = `INSERT INTO device_credentials (device_id, type, ${names.join(', ')}, updated_at)
     SELECT k.device_id, '${type}', ${names.map((c) => `k.${c}`).join(', ')}, now()
     FROM unnest($1::uuid[], ${unnest}) k(device_id, ${names.join(', ')})`;
  for (let from = 0; from < ids.length; from += SEED_CHUNK) {
    const to = from + SEED_CHUNK;
    await pool.query(sql, [ids.slice(from, to), ...names.map((c) => columns[c].slice(from, to))]);
  }
}

/**
 * Seeds n devices (insertFleet) with access-token credentials `bench-token-<i>`.
 * Returns the token list (index = simulator device index).
 */
export async function seedDevices(pool, n, { regions = 5 } = {}) {
  const { accessTokenKey } = await import('@spms/credentials');
  const tokens = Array.from({ length: n }, (_, i) => `bench-token-${i}`);
  const ids = await insertFleet(pool, n, { regions });
  await insertCredentials(pool, ids, 'ACCESS_TOKEN', { credentials_id: tokens.map(accessTokenKey) });
  return tokens;
}

/** Telemetry rows committed so far: one per line report (line_events) or voltage (voltage_samples). */
export async function committedRows(pool) {
  const { rows } = await pool.query(
    'SELECT (SELECT count(*) FROM line_events) + (SELECT count(*) FROM voltage_samples) AS n',
  );
  return Number(rows[0].n);
}

/** A simulator fleet object for loadTest: only the credentials matter there. */
export const tokenFleet = (tokens) => ({
  devices: tokens.map((token, i) => ({
    name: `${String(i).padStart(5, '0')}_MSAN`,
    credentials: { type: 'ACCESS_TOKEN', token },
  })),
});
