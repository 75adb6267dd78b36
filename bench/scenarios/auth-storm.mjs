// Grid-restore storm with the fleet's real credentials: MQTT Basic client id / username /
// password per device, the passwords supplied (compiled into the firmware), so stored with
// scrypt exactly as the CSV import stores them. The system runs with the shipped defaults
// (no bench overrides of MAX_CONNECTIONS, AUTH_FAILURES_PER_IP, DEVICE_MSG_RATE, …) and the
// devices come from two source addresses (127.0.0.1 and 127.0.0.2), as a carrier-NAT'd
// region does. Three runs of the same storm — every device connects at once and sends its
// 8-message boot burst; a refused or failed connect reboots the device (retry after
// `rebootMs`) with the same credentials:
//   1. Mosquitto (no authentication, no durability): the same-run baseline;
//   2. cold: nothing verified yet anywhere (first start): every device costs a scrypt check;
//   3. warm: a broker process started after the cold run (its own cache empty, as after a
//      blackout longer than the per-process cache or a restart) with the shared Redis cache
//      holding what the cold run verified — the real case after a blackout.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { LeanMqttClient, mqttLinePayload, TELEMETRY_TOPIC } from '@spms/simulator';
import {
  committedRows,
  cpuMeter,
  freePort,
  insertCredentials,
  insertFleet,
  listenOverflows,
  pct,
  sleep,
} from '../lib/system.mjs';

const ADDRESSES = ['127.0.0.1', '127.0.0.2'];
const round = (x) => (x === null || x === undefined ? null : Math.round(x * 100) / 100);
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

/** Environment that undoes the bench's capacity overrides: the shipped defaults apply. */
export const SHIPPED_DEFAULTS_ENV = {
  MAX_CONNECTIONS: '',
  CONNECT_RATE_PER_IP: '',
  AUTH_FAILURES_PER_IP: '',
  DEVICE_MSG_RATE: '',
  DEVICE_AUTH_CACHE_SECRET: randomBytes(32).toString('hex'),
};

/**
 * Seeds n devices with MQTT Basic credentials like the imported fleet (`spms-<i>`,
 * `<i>_user`, a random 16-character password), hashed with hashSecret(…, 'supplied').
 */
export async function seedBasicDevices(pool, n, { regions = 5 } = {}) {
  const { credentialsKey, hashSecret } = await import('@spms/credentials');
  const creds = Array.from({ length: n }, (_, i) => ({
    type: 'MQTT_BASIC',
    clientId: `spms-${String(i).padStart(5, '0')}`,
    username: `${String(i).padStart(5, '0')}_user`,
    password: randomBytes(12).toString('base64url'),
  }));
  const hashes = new Array(n);
  for (let i = 0; i < n; i += 64)
    await Promise.all(
      creds.slice(i, i + 64).map(async (c, k) => {
        hashes[i + k] = await hashSecret(c.password, 'supplied');
      }),
    );
  const ids = await insertFleet(pool, n, { regions });
  await insertCredentials(pool, ids, 'MQTT_BASIC', {
    credentials_id: creds.map((c) => credentialsKey(c)),
    client_id: creds.map((c) => c.clientId),
    username: creds.map((c) => c.username),
    password_hash: hashes,
  });
  return creds;
}

/** One storm: every device at once, boot burst after CONNACK, reboot on failure. */
async function storm({ port, creds, p, recorded, withAuth }) {
  const n = creds.length;
  const clients = [];
  const connectedIdx = new Set();
  const connackMs = [];
  const connectedAtMs = [];
  const refusals = {};
  const errorKinds = {};
  let refused = 0;
  let errors = 0;
  let tConnected = null;
  let tBooted = null;
  const overflows0 = listenOverflows();
  const load0 = load();
  const t0 = performance.now();
  const deadline = t0 + p.timeoutS * 1000;
  await Promise.all(
    creds.map(async (cr, i) => {
      while (performance.now() < deadline) {
        const c = new LeanMqttClient({
          host: '127.0.0.1',
          port,
          clientId: cr.clientId,
          ...(withAuth ? { username: cr.username, password: cr.password } : {}),
          keepalive: 120,
          connectTimeoutMs: p.connackTimeoutMs,
          localAddress: ADDRESSES[i % ADDRESSES.length],
        });
        const a = performance.now();
        try {
          await c.connect();
          const now = performance.now();
          connackMs.push(now - a);
          connectedAtMs.push(now - t0);
          tConnected = now;
          clients.push(c);
          connectedIdx.add(i);
          await Promise.all(
            [1, 2, 3, 4, 5, 6, 7, 8].map((l) => c.publish(TELEMETRY_TOPIC, mqttLinePayload(l, true), 1)),
          );
          tBooted = performance.now();
          return;
        } catch (err) {
          if (err?.returnCode !== undefined) {
            refused++;
            refusals[err.returnCode] = (refusals[err.returnCode] ?? 0) + 1;
          } else {
            errors++;
            const kind = err?.code ?? err?.message ?? String(err);
            errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
          }
          c.destroy();
          await sleep(p.rebootMs);
        }
      }
    }),
  );
  const tRecorded = recorded ? await recorded(t0) : null;
  const sorted = (xs) => [...xs].sort((x, y) => x - y);
  const ms = sorted(connackMs);
  const at = sorted(connectedAtMs);
  const result = {
    devices: n,
    connected: clients.length,
    refused,
    refusalsByCode: refusals,
    errors,
    errorKinds,
    allConnectedS: tConnected === null ? null : round((tConnected - t0) / 1000),
    allBootBurstsAckedS: tBooted === null ? null : round((tBooted - t0) / 1000),
    allRecordedS: tRecorded === null ? null : round((tRecorded - t0) / 1000),
    connackMs: { p50: round(pct(ms, 0.5)), p99: round(pct(ms, 0.99)), max: round(ms.at(-1)) },
    connectedAfterS: { p50: round(pct(at, 0.5) / 1000), p99: round(pct(at, 0.99) / 1000) },
    listenOverflows: overflows0 === null ? null : listenOverflows() - overflows0,
    loadAverage: { before: load0, after: load() },
  };
  return { result, clients, connectedIdx };
}

/**
 * The devices the cold storm did not bring back within its limit connect now, a batch at a
 * time, so that before the blackout every device has been online (verified) once — the
 * premise of the warm storm. Returns the clients and how long it took.
 */
async function completeFleet(port, creds, missing, p) {
  const t0 = performance.now();
  const clients = [];
  for (let b = 0; b < missing.length; b += 100) {
    await Promise.all(
      missing.slice(b, b + 100).map(async (i) => {
        for (let attempt = 0; attempt < 30; attempt++) {
          const cr = creds[i];
          const c = new LeanMqttClient({
            host: '127.0.0.1',
            port,
            clientId: cr.clientId,
            username: cr.username,
            password: cr.password,
            keepalive: 120,
            connectTimeoutMs: 120_000,
            localAddress: ADDRESSES[i % ADDRESSES.length],
          });
          try {
            await c.connect();
            clients.push(c);
            return;
          } catch {
            c.destroy();
            await sleep(p.rebootMs);
          }
        }
      }),
    );
  }
  return { clients, seconds: round((performance.now() - t0) / 1000) };
}

async function metricsText(port) {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}
function metric(text, line) {
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}
function authMetrics(text) {
  return {
    hashes: metric(text, 'spms_broker_auth_hashes_total '),
    dbQueries: metric(text, 'spms_broker_auth_db_queries_total '),
    sharedHits: metric(text, 'spms_broker_auth_shared_cache_total{result="hit"} '),
    sharedStored: metric(text, 'spms_broker_auth_shared_cache_total{result="stored"} '),
    verifyQueueFull: metric(text, 'spms_broker_auth_verify_queue_full_total '),
    refusedVerifyBusy: metric(text, 'spms_broker_refusals_total{reason="verify_busy"} '),
    refusedGone: metric(text, 'spms_broker_refusals_total{reason="gone_before_connack"} '),
  };
}

async function startExtraBroker(root, sys) {
  const [mqttPort, httpPort] = await Promise.all([freePort(), freePort()]);
  const child = spawn(process.execPath, ['apps/broker/dist/main.js'], {
    cwd: root,
    env: { ...sys.env, MQTT_PORT: String(mqttPort), BROKER_HTTP_PORT: String(httpPort) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 150; i++) {
    if (
      await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await sleep(200);
  }
  return {
    mqttPort,
    httpPort,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(15_000)]);
    },
  };
}

/**
 * @param p.devices, p.timeoutS (per storm), p.rebootMs, p.connackTimeoutMs
 * @param creds from seedBasicDevices; mosq from bench/lib/mosquitto.mjs
 */
export async function authStorm(sys, root, creds, mosq, p) {
  const n = Math.min(p.devices, creds.length);
  const fleet = creds.slice(0, n);
  const recordedSince = async (t0) => {
    const rows0 = recordedSince.rows;
    const limit = t0 + (p.timeoutS + 60) * 1000;
    while (performance.now() < limit) {
      if ((await committedRows(sys.pool)) - rows0 >= n * 8) return performance.now();
      await sleep(250);
    }
    return null;
  };
  const out = {
    conditions: `${n} devices with MQTT Basic credentials (supplied passwords, scrypt N=4096 r=8 p=1 as imported) reconnect at once from ${ADDRESSES.length} source addresses (${ADDRESSES.join(', ')}), each then sends its 8-message boot burst (QoS 1); a refused or failed connect reboots the device (retry after ${p.rebootMs} ms); CONNACK timeout ${p.connackTimeoutMs} ms; limit ${p.timeoutS} s per storm; shipped defaults (one broker process, AUTH_VERIFY_CONCURRENCY 1, AUTH_VERIFY_QUEUE_MAX 1000, AUTH_FAILURES_PER_IP 120, DEVICE_AUTH_CACHE_TTL_SEC 86400)`,
  };

  // 1. Baseline: Mosquitto, same clients, no authentication.
  {
    const meter = mosq.pid ? cpuMeter({ mosquitto: mosq.pid }) : null;
    const { result, clients } = await storm({ port: mosq.port, creds: fleet, p, withAuth: false });
    result.cpuPct = meter?.();
    for (const c of clients) c.destroy();
    out.mosquitto = result;
  }
  await sleep(3000);

  // 2. Cold: nothing verified anywhere yet.
  {
    recordedSince.rows = await committedRows(sys.pool);
    const before = authMetrics(await metricsText(Number(sys.env.BROKER_HTTP_PORT)));
    const meter = cpuMeter(sys.pids);
    const { result, clients, connectedIdx } = await storm({
      port: sys.mqttPort,
      creds: fleet,
      p,
      withAuth: true,
      recorded: recordedSince,
    });
    result.cpuPct = meter();
    const after = authMetrics(await metricsText(Number(sys.env.BROKER_HTTP_PORT)));
    result.auth = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]));
    out.cold = result;
    const missing = fleet.map((_, i) => i).filter((i) => !connectedIdx.has(i));
    const rest = await completeFleet(sys.mqttPort, fleet, missing, p);
    out.fleetCompletedBeforeBlackout = {
      devices: missing.length,
      connected: rest.clients.length,
      seconds: rest.seconds,
      note: 'devices the cold storm did not bring back within its limit, connected 100 at a time before the blackout',
    };
    // The blackout: every link drops at once.
    for (const c of [...clients, ...rest.clients]) c.destroy();
  }
  await sleep(5000);

  // 3. Warm: a broker process that has verified nothing itself; the shared cache has.
  const extra = await startExtraBroker(root, sys);
  try {
    recordedSince.rows = await committedRows(sys.pool);
    const meter = cpuMeter({ ...sys.pids, broker: extra.pid });
    const { result, clients } = await storm({
      port: extra.mqttPort,
      creds: fleet,
      p,
      withAuth: true,
      recorded: recordedSince,
    });
    result.cpuPct = meter();
    result.auth = authMetrics(await metricsText(extra.httpPort));
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    out.warm = result;
  } finally {
    await extra.stop();
  }
  out.goal = {
    text: `warm: all ${n} back and recorded within ${n <= 10_000 ? 15 : 30} s, no client refused`,
    met:
      out.warm.connected === n &&
      out.warm.refused === 0 &&
      out.warm.allRecordedS !== null &&
      out.warm.allRecordedS <= (n <= 10_000 ? 15 : 30),
  };
  return out;
}
