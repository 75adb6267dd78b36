// Which SPMS processes `npm start` runs on this machine, and the ports each one listens on.
//
// Brokers and API processes share their public port (MQTT_PORT, MQTT_WS_PORT, MQTTS_PORT;
// HTTP_PORT) through Node's cluster module. CLUSTER_SCHEDULING says who hands out their
// connections: `os` (default) — every process accepts from the shared listening socket
// itself and the kernel decides which (Node's SCHED_NONE; no hand-over); `primary` — the
// supervisor accepts each connection and passes the socket to the processes in turn over IPC
// (Node's SCHED_RR, the default of the cluster module on Linux). docs/scaling.md has the
// measurements behind the default and the evenness of each. Each broker, worker, alerts and API process has
// its own metrics/health port, so Prometheus can scrape every one of them: BROKER_HTTP_PORT
// + 2 × i, WORKER_HTTP_PORT + 2 × i, ALERTS_HTTP_PORT + 2 × i and API_METRICS_PORT + 2 × i
// for process i = 0, 1, … The step of 2 keeps the default bases from colliding: brokers on
// 9091, 9093, 9095…, workers on 9092, 9094…, API processes on 9464, 9466…, alerts processes
// on 9465, 9467… A base of 0 gives every process a random port.
//
// Alerts processes (ALERTS_PROCESSES, default 1) are separate from the ingest workers: they
// consume the domain-events, alert-timers, sms, email and sms-inbound queues, where BullMQ
// hands each job to one process and every step is idempotent (deterministic job ids, rows
// re-read before a send), so any number of them is safe. Before they had their own count,
// each worker also ran an alerts processor.
import { availableParallelism } from 'node:os';

/** Per-process ports advance by 2 so that brokers and workers interleave with the default bases. */
export const PORT_STEP = 2;

/** A process count from the environment: a whole number ≥ 0, or the default. */
function readCount(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 256) {
    throw new Error(`${name} must be a whole number from 0 to 256 (got "${raw}")`);
  }
  return n;
}

/** Node cluster scheduling policy names: CLUSTER_SCHEDULING=os|primary. */
export const CLUSTER_SCHEDULING = ['os', 'primary'];

function readScheduling(env) {
  const raw = env.CLUSTER_SCHEDULING;
  if (raw === undefined || raw === '') return 'os';
  if (!CLUSTER_SCHEDULING.includes(raw)) throw new Error(`CLUSTER_SCHEDULING must be "os" or "primary" (got "${raw}")`);
  return raw;
}

function readPort(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a TCP port number (got "${raw}")`);
  return n;
}

/**
 * @returns {{ processes: { app: 'broker'|'worker'|'api'|'alerts', index: number, label: string, cluster: boolean,
 *   env: Record<string,string> }[], ports: { name: string, port: number, note?: string }[],
 *   scheduling: 'os'|'primary' }}
 */
export function planProcesses(env) {
  const cores = availableParallelism();
  const counts = {
    broker: readCount(env, 'BROKER_PROCESSES', cores),
    worker: readCount(env, 'WORKER_PROCESSES', cores),
    api: readCount(env, 'API_PROCESSES', 1),
    alerts: readCount(env, 'ALERTS_PROCESSES', 1),
  };
  const scheduling = readScheduling(env);
  const brokerBase = readPort(env, 'BROKER_HTTP_PORT', 9091);
  const workerBase = readPort(env, 'WORKER_HTTP_PORT', 9092);
  const processes = [];
  const ports = [];
  const shared = (name, fallback) => {
    const port = readPort(env, name, fallback);
    if (port !== 0) ports.push({ name, port });
  };
  if (counts.broker > 0) {
    shared('MQTT_PORT', 1883);
    if (env.MQTT_WS_PORT) shared('MQTT_WS_PORT', 0);
    if (env.MQTT_TLS_CERT && env.MQTT_TLS_KEY) shared('MQTTS_PORT', 8883);
  }
  if (counts.api > 0) shared('HTTP_PORT', 8080);
  const perProcess = (app, count, variable, base) => {
    for (let i = 0; i < count; i++) {
      const port = base === 0 ? 0 : base + PORT_STEP * i;
      if (port > 65535) throw new Error(`${variable} + ${PORT_STEP * i} is above 65535: set ${variable} lower`);
      const note = i === 0 ? undefined : `${variable} + ${PORT_STEP * i}, ${app} process ${i + 1} of ${count}`;
      if (port !== 0) ports.push({ name: variable, port, note, base });
      processes.push({
        app,
        index: i,
        label: count > 1 ? `${app}${i + 1}` : app,
        // Only brokers and API processes share a public port (cluster workers).
        cluster: app === 'broker' || app === 'api',
        env: { [variable]: String(port) },
      });
    }
  };
  perProcess('broker', counts.broker, 'BROKER_HTTP_PORT', brokerBase);
  perProcess('worker', counts.worker, 'WORKER_HTTP_PORT', workerBase);
  // API process i serves /metrics on API_METRICS_PORT + 2 × i (9464, 9466, …).
  perProcess('api', counts.api, 'API_METRICS_PORT', readPort(env, 'API_METRICS_PORT', 9464));
  perProcess('alerts', counts.alerts, 'ALERTS_HTTP_PORT', readPort(env, 'ALERTS_HTTP_PORT', 9465));
  // Custom bases can still overlap (BROKER_HTTP_PORT=9000, WORKER_HTTP_PORT=9002)
  // would only show as EADDRINUSE later: say which ones collide now.
  const seen = new Map();
  for (const p of ports) {
    const other = seen.get(p.port);
    if (other) {
      throw new Error(
        `port ${p.port} would be used twice: ${other.note ?? other.name} and ${p.note ?? p.name}; ` +
          'move one base port (e.g. WORKER_HTTP_PORT=9200) or run fewer processes',
      );
    }
    seen.set(p.port, p);
  }
  return { counts, processes, ports, scheduling };
}
