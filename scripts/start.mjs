#!/usr/bin/env node
// `npm start`: the whole system in one command — build, migrate, then the broker, worker, API
// and alerts processes with prefixed output: by default one broker and one worker per core,
// one API process and one alerts process (BROKER_PROCESSES, WORKER_PROCESSES, API_PROCESSES,
// ALERTS_PROCESSES; scripts/process-plan.mjs).
// A process that exits is restarted with back-off; Ctrl-C stops them all (scripts/supervise.mjs).
//
// Configuration comes from the environment, or from a `.env` file in the repository root
// (see README "Configuration"). Without one, it uses the local PostgreSQL and Redis and
// writes a fresh admin API key and device credential cache key into `.env` (never printed).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portFree } from './lib/ports.mjs';
import { planProcesses } from './process-plan.mjs';
import { superviseUntilSignal } from './supervise.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const envFile = join(root, '.env');
if (existsSync(envFile)) process.loadEnvFile(envFile);

const env = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/spms',
  REDIS_URL: 'redis://127.0.0.1:6379',
  TURBO_TELEMETRY_DISABLED: '1',
  ...process.env,
};
if (!env.SPMS_ADMIN_API_KEY) {
  env.SPMS_ADMIN_API_KEY = randomBytes(24).toString('hex');
  appendFileSync(envFile, `SPMS_ADMIN_API_KEY=${env.SPMS_ADMIN_API_KEY}\n`, { mode: 0o600 });
  console.log('spms: generated an admin API key and saved it in .env as SPMS_ADMIN_API_KEY');
}
// The key of the verified-credential cache shared by the brokers and the API in Redis:
// without it every process hashes supplied device passwords again after each restart.
if (!env.DEVICE_AUTH_CACHE_SECRET) {
  env.DEVICE_AUTH_CACHE_SECRET = randomBytes(32).toString('hex');
  appendFileSync(envFile, `DEVICE_AUTH_CACHE_SECRET=${env.DEVICE_AUTH_CACHE_SECRET}\n`, { mode: 0o600 });
  console.log('spms: generated a device credential cache key and saved it in .env as DEVICE_AUTH_CACHE_SECRET');
}

let plan;
try {
  plan = planProcesses(env);
} catch (err) {
  console.error(`spms: ${err.message}`);
  process.exit(1);
}

// Fail at once, naming the port and the variable, rather than after starting half the system.
// Every derived per-process port (BROKER_HTTP_PORT + 2, + 4, …) is checked too.
for (const { name, port, note, base } of plan.ports) {
  if (!(await portFree(port))) {
    const suggestion = name === 'MQTT_PORT' ? 11883 : (base ?? port) + 1000;
    console.error(
      `spms: port ${port} is already in use (${note ?? name})${name === 'MQTT_PORT' ? ', perhaps by another MQTT broker such as Mosquitto' : ''}. ` +
        `Start with a free port, e.g. \`${name}=${suggestion} npm start\`.`,
    );
    process.exit(1);
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

console.log('spms: building…');
run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only']);
console.log('spms: migrating…');
run('node', ['packages/db/dist/bin/migrate.js', '--create-database']);

const { broker, worker, api, alerts } = plan.counts;
console.log(
  `spms: starting ${broker} broker, ${worker} worker, ${api} API and ${alerts} alerts process${broker + worker + api + alerts === 1 ? '' : 'es'} — ` +
    `MQTT on :${env.MQTT_PORT ?? 1883}, HTTP API and device API on :${env.HTTP_PORT ?? 8080} ` +
    `(connections handed out by ${plan.scheduling === 'os' ? 'the OS' : 'this process'}, CLUSTER_SCHEDULING=${plan.scheduling}). Ctrl-C stops.`,
);
superviseUntilSignal(env, plan);
announceReady();

/**
 * One line once the API and every broker answer `/readyz` (PostgreSQL and Redis reached, the
 * listeners open) and every worker `/healthz`: from then on devices and operators are served.
 * Said once; after ten minutes without it, a line says so (the processes' logs say why).
 */
async function announceReady() {
  const local = (host) =>
    !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const httpPort = env.HTTP_PORT || '8080';
  const own = (app, variable, host, path) =>
    plan.processes
      .filter((p) => p.app === app && p.env[variable] !== '0')
      .map((p) => `http://${local(host)}:${p.env[variable]}${path}`);
  const urls = [
    // One API process answers for the port (the OS picks which); port 0 is any port: not known here.
    ...(plan.counts.api > 0 && httpPort !== '0' ? [`http://${local(env.HTTP_HOST)}:${httpPort}/readyz`] : []),
    ...own('broker', 'BROKER_HTTP_PORT', env.BROKER_HTTP_HOST, '/readyz'),
    ...own('worker', 'WORKER_HTTP_PORT', env.WORKER_HTTP_HOST, '/healthz'),
  ];
  const answers = async (url) => {
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
    } catch {
      return false;
    }
  };
  const until = Date.now() + 10 * 60_000;
  while (Date.now() < until) {
    if ((await Promise.all(urls.map(answers))).every(Boolean)) {
      const http = `http://localhost:${httpPort}/`;
      console.log(
        `spms: ready — MQTT on :${env.MQTT_PORT ?? 1883}${plan.counts.api > 0 ? `, dashboard and API on ${http}` : ''}`,
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 500).unref());
  }
  console.log(`spms: not ready after 10 minutes (waiting on ${urls.join(', ')}); see the processes' messages above`);
}
