#!/usr/bin/env node
// `npm start`: the whole system in one command — build, migrate, then broker + worker + API
// as three processes with prefixed output. Stops everything if one of them exits.
//
// Configuration comes from the environment, or from a `.env` file in the repository root
// (see README "Configuration"). Without one, it uses the local PostgreSQL and Redis and
// writes a fresh admin API key into `.env` (the key itself is never printed).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

function portFree(port, host = '0.0.0.0') {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

// Fail at once, naming the port and the variable, rather than after starting half the system.
const ports = [
  ['MQTT_PORT', Number(env.MQTT_PORT ?? 1883)],
  ['HTTP_PORT', Number(env.HTTP_PORT ?? 8080)],
  ['BROKER_HTTP_PORT', Number(env.BROKER_HTTP_PORT ?? 9091)],
  ['WORKER_HTTP_PORT', Number(env.WORKER_HTTP_PORT ?? 9092)],
];
for (const [name, port] of ports) {
  if (!(await portFree(port))) {
    console.error(
      `spms: port ${port} is already in use (${name})${name === 'MQTT_PORT' ? ', perhaps by another MQTT broker such as Mosquitto' : ''}. ` +
        `Start with a free port, e.g. \`${name}=${name === 'MQTT_PORT' ? 11883 : port + 1} npm start\`.`,
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

const apps = [
  ['broker', 'apps/broker/dist/main.js'],
  ['worker', 'apps/worker/dist/main.js'],
  ['api', 'apps/api/dist/main.js'],
];
const children = [];
let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  setTimeout(() => process.exit(code), 5000).unref();
  Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once('exit', r))))).then(() =>
    process.exit(code),
  );
}
for (const [name, entry] of apps) {
  const child = spawn('node', [entry], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = `${name.padEnd(6)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) process.stdout.write(`${prefix + line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`spms: ${name} exited (${signal ?? code}); stopping the others`);
      stopAll(code || 1);
    }
  });
  children.push(child);
}
console.log(
  `spms: running — MQTT on :${env.MQTT_PORT ?? 1883}, HTTP API and device API on :${env.HTTP_PORT ?? 8080}. Ctrl-C stops.`,
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stopAll(0));
