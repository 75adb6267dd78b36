#!/usr/bin/env node
// `npm run demo`: the whole system plus a simulated fleet, in one command, beside whatever
// else runs on the machine. Builds, migrates a fresh database (spms_demo), starts broker +
// worker + alerts + API in this process on free ports, registers the 5-device demo fleet
// through the API's CSV import, adds two SMS recipients (console provider: texts are printed
// here), plays the simulator's demo-day scenario and finally compares what the system
// recorded (GET /api/outages) with the simulator's ground truth.
//
//   npm run demo                      # ~2.5 minutes, then stops by itself
//   npm run demo -- --keep-running    # stay up after the scenario (Ctrl-C stops)
//   npm run demo -- --speed 240       # slower day (default 480: 1 scenario hour = 7.5 s)
//
// Time: the firmware sends no timestamps, so the server's receive time is the event time.
// The demo therefore compresses the scenario *timeline* (a 2 h outage lasts 15 s) while the
// devices run in real time (30 s voltage cadence, 8 s reboot). Durations the system records
// are real seconds; the summary also shows them scaled back to scenario time.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { matchOutages } from '../bench/lib/truth-match.mjs';
import { freePort, portFree } from './lib/ports.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// A newcomer's console: library deprecation notices (pg 8 → 9) are not the demo's news.
process.noDeprecation = true;
const { values: args } = parseArgs({
  options: {
    'keep-running': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    speed: { type: 'string', default: '480' },
    // The demo day is quiet until 06:30; start the clock at 06:00 so something happens at once.
    from: { type: 'string', default: '6h' },
  },
});
const speed = Number(args.speed);
const log = (msg) => console.log(`demo   | ${msg}`);
const hhmm = (ms) => new Date(ms).toLocaleTimeString('en-GB', { timeZone: 'Asia/Colombo' }); // the fleet's zone

function run(cmd, argv, env = process.env) {
  const r = spawnSync(cmd, argv, { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`demo: ${cmd} ${argv.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}
const pickPort = async (preferred) => ((await portFree(preferred)) ? preferred : freePort());

// ---------- build + fresh database ----------
const dbServer = process.env.DEMO_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = 'spms_demo';
const dbUrl = (() => {
  const u = new URL(dbServer);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
const redisUrl = process.env.DEMO_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `spmsdemo-${randomBytes(3).toString('hex')}`;
const adminKey = randomBytes(24).toString('hex');

if (!args['no-build']) {
  log('building (turbo, cached after the first run)…');
  run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { ...process.env, TURBO_TELEMETRY_DISABLED: '1' });
}
const imp = (p) => import(pathToFileURL(join(root, p)).href);
const pg = (await import('pg')).default;
const { Redis } = await import('ioredis');
{
  const c = new pg.Client({ connectionString: dbServer });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await c.end();
}
log(`migrating a fresh database ${dbName}…`);
run('node', ['packages/db/dist/bin/migrate.js', '--create-database'], { ...process.env, DATABASE_URL: dbUrl });

// ---------- start the system in this process ----------
const [{ startGateway }, { loadBrokerConfig }, { startWorker }, { loadWorkerConfig }, alertsMod, apiApp, apiCfg] =
  await Promise.all([
    imp('apps/broker/dist/gateway.js'),
    imp('apps/broker/dist/config.js'),
    imp('apps/worker/dist/worker.js'),
    imp('apps/worker/dist/config.js'),
    imp('apps/alerts/dist/alerts.js'),
    imp('apps/api/dist/app.js'),
    imp('apps/api/dist/config.js'),
  ]);
const { createLogger } = await import('@spms/log');
const { domainEventsChannel } = await import('@spms/contracts');
const { parseConfig } = await import('@spms/config');
const { deleteKeys } = await import('@spms/testing');
const { readFleetFile, readScenarioFile, demoFleetUrl, demoFleetCsvUrl, exampleScenarioUrl, runScenario } =
  await import('@spms/simulator');

const mqttPort = await pickPort(1883);
const httpPort = await pickPort(8080);
const base = {
  DATABASE_URL: dbUrl,
  REDIS_URL: redisUrl,
  REDIS_PREFIX: prefix,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};
const logger = createLogger({ name: 'demo', level: base.LOG_LEVEL });
const stops = [];
let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  const hard = setTimeout(() => process.exit(code), 10_000);
  hard.unref();
  for (const fn of stops.reverse())
    await Promise.resolve()
      .then(fn)
      .catch(() => {});
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stopAll(0));

// Last to run: remove this run's Redis keys (queues, caches) — the database stays for a look.
stops.push(() => deleteKeys(redisUrl, `${prefix}:`));
const gateway = await startGateway(
  loadBrokerConfig({ ...base, MQTT_PORT: String(mqttPort), MQTT_HOST: '127.0.0.1', BROKER_HTTP_PORT: '0' }),
  { logger },
);
stops.push(() => gateway.close());
// The alerts (apps/alerts) are started below with the demo's short timers and console provider.
const worker = await startWorker(loadWorkerConfig({ ...base }), { logger });
stops.push(() => worker.close());

let smsSent = 0;
const smsByPhone = new Map();
// The console provider's behaviour (nothing leaves the machine), printed readably.
const provider = {
  name: 'console',
  async send(msg) {
    smsSent++;
    smsByPhone.set(msg.to, (smsByPhone.get(msg.to) ?? 0) + 1);
    const body = msg.body.replace(/\n/g, ' ⏎ ');
    console.log(`sms    | → ${msg.to}: ${body}`);
    return { provider: 'console', id: `demo-${smsSent}`, status: 'logged', to: msg.to, segments: 1 };
  },
};
const alertsConfig = parseConfig(alertsMod.AlertsConfigSchema, {
  // Short timers so texts arrive within the compressed day (defaults: 60 s debounce, 30 s
  // window); the evening blackout lasts ~9 s here, so the debounce plus window must be shorter.
  ALERT_DEBOUNCE_MS: '2000',
  ALERT_GROUP_WINDOW_MS: '3000',
  ALERT_GROUP_INTERVAL_MS: '15000',
  ALERT_MAX_PER_HOUR: '30',
});
const alerts = await alertsMod.startAlerts({ ...alertsConfig, ...base }, { logger, provider });
stops.push(() => alerts.close());

const app = await apiApp.buildApp(
  apiCfg.loadApiConfig({ ...base, HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', SPMS_ADMIN_API_KEY: adminKey }),
  { logger },
);
await app.listen({ port: httpPort, host: '127.0.0.1' });
stops.push(() => app.close());
const apiBase = `http://127.0.0.1:${httpPort}`;
async function api(method, path, body, type = 'application/json') {
  const res = await fetch(`${apiBase}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body !== undefined ? { 'content-type': type } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// ---------- fleet, recipients, a user to sign in with ----------
try {
  const csv = readFileSync(fileURLToPath(demoFleetCsvUrl), 'utf8');
  const imported = await api('POST', '/api/devices/import', csv, 'text/csv');
  log(`registered ${imported.count} devices from packages/simulator/fleets/demo.csv (CSV import)`);
  for (const [name, phone] of [
    ['Duty engineer', '+94771234567'],
    ['Regional manager', '+94712345678'],
  ])
    await api('POST', '/api/recipients', { name, phone, scopeKind: 'all', kinds: ['outage', 'restoration'] });
  log('2 SMS recipients subscribed to every outage and restoration (console provider: texts print below)');
} catch (err) {
  console.error(`demo: setting up the fleet failed: ${err.message}`);
  await stopAll(1);
}
const password = randomBytes(9).toString('base64url');
const signIn = await api('POST', '/api/users', { username: 'demo', password, role: 'admin' })
  .then(() => `user "demo", password "${password}"`)
  .catch((err) => `(no demo user: ${err.message.slice(0, 120)}) — use the API key`);

console.log(`
  SPMS demo is running (database ${dbName}, Redis prefix ${prefix})
  MQTT broker   mqtt://127.0.0.1:${mqttPort}${mqttPort === 1883 ? '' : '   (1883 is taken on this machine, so a free port was picked)'}
  Dashboard     ${apiBase}/
  Sign in       ${signIn}
  Admin API key ${adminKey}   (demo only — e.g. curl -H "Authorization: Bearer …" ${apiBase}/api/outages)
`);

// ---------- live view: outage events as the worker commits them ----------
const fleet = await readFleetFile(demoFleetUrl);
const nameOf = new Map();
for (const d of (await api('GET', '/api/devices?limit=100')).items ?? []) nameOf.set(d.id, d.name);
const open = new Map();
const closed = [];
const sub = new Redis(redisUrl);
stops.push(() => sub.disconnect());
await sub.subscribe(domainEventsChannel(prefix));
sub.on('message', (_ch, raw) => {
  let e;
  try {
    e = JSON.parse(raw);
  } catch {
    return;
  }
  const o = e.payload?.outage;
  const who = `${nameOf.get(e.deviceId) ?? e.deviceId} line ${o?.line} (${e.payload?.label ?? '?'})`;
  if (e.type === 'outage.opened') {
    open.set(`${e.deviceId}/${o.line}`, o.startedAt);
    log(`OUTAGE   ${who} since ${hhmm(o.startedAt)}`);
  } else if (e.type === 'outage.closed') {
    open.delete(`${e.deviceId}/${o.line}`);
    const ms = o.endedAt - o.startedAt;
    closed.push(ms);
    log(
      `RESTORED ${who} after ${(ms / 1000).toFixed(1)} s (≈ ${Math.round((ms * speed) / 60000)} min of scenario time)`,
    );
  } else if (e.type === 'device.offline' || e.type === 'device.online') {
    log(`${e.type === 'device.offline' ? 'OFFLINE ' : 'ONLINE  '} ${nameOf.get(e.deviceId) ?? e.deviceId}`);
  }
});
const summary = setInterval(() => {
  log(`— ${open.size} open outage(s), ${closed.length} closed, ${smsSent} SMS sent —`);
}, 20_000);
stops.push(() => clearInterval(summary));

// ---------- the scenario ----------
const { parseDuration } = await import('@spms/simulator');
const full = await readScenarioFile(exampleScenarioUrl('demo-day'), fleet);
const skipMs = parseDuration(args.from) ?? 0; // validated scenarios are in ms
const scenario = {
  ...full,
  name: `${full.name} from ${args.from}`,
  duration: full.duration - skipMs,
  events: full.events.map((e) => ({ ...e, at: e.at - skipMs })).filter((e) => e.at >= 0),
};
const realS = Math.round(scenario.duration / 1000 / speed);
log(`playing "${scenario.name}" at ${speed}× (${realS} s): 1 scenario hour = ${(3600 / speed).toFixed(1)} s real`);
const ac = new AbortController();
stops.push(() => ac.abort());
let result;
try {
  result = await runScenario({
    fleet,
    scenario,
    mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
    httpUrl: apiBase,
    speed,
    signal: ac.signal,
    log: (m) => log(`sim: ${m}`),
  });
} catch (err) {
  if (!stopping) {
    console.error(`demo: scenario failed: ${err.stack ?? err}`);
    await stopAll(1);
  }
}
if (stopping) await new Promise(() => {});

// ---------- compare with the ground truth ----------
await new Promise((r) => setTimeout(r, 3000)); // the last messages reach the database
const recorded = [];
for (let cursor = null; ; ) {
  const page = await api('GET', `/api/outages?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
  recorded.push(...page.items);
  if (!page.nextCursor) break;
  cursor = page.nextCursor;
}
const m = matchOutages(result.truth, recorded, {
  toleranceMs: (dev) => (fleet.devices.find((d) => d.name === dev)?.transport === 'http' ? 12_000 : 4_000),
});
console.log(`
  Ground truth vs. recorded (GET /api/outages), tolerance 4 s MQTT / 12 s HTTP:
    outages in the truth (observable start): ${m.expected}
    recorded by SPMS:                        ${recorded.length}
    matched (device, line, start, end):      ${m.matched}/${m.expected}
    missed: ${m.missed.length ? m.missed.map((o) => `${o.device} L${o.line} @${hhmm(o.start)}`).join(', ') : 'none'}
    extra:  ${m.extra.length ? m.extra.map((o) => `${o.device.name} L${o.line} @${hhmm(Date.parse(o.startedAt))}`).join(', ') : 'none'}
    start error p50/max: ${m.startErr.p50} / ${m.startErr.max} ms; SMS sent: ${smsSent} (${[...smsByPhone].map(([p, n]) => `${p}: ${n}`).join(', ')})
`);
if (args['keep-running']) {
  log(`scenario over; still running (--keep-running). Dashboard ${apiBase}/ — Ctrl-C stops.`);
} else {
  // Exit status says whether the system recorded what the simulator did.
  await stopAll(m.matched === m.expected && m.extra.length === 0 ? 0 : 3);
}
