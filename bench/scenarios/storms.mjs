// Scenarios 4–5 on one system with the alerts processors in this process (counting SMS
// provider): an outage storm (every line of N devices off within 1 s), then a reconnect storm
// (every device drops and all reconnect at once, as after a grid restore).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LeanMqttClient, mqttLinePayload, TELEMETRY_TOPIC } from '@spms/simulator';
import { committedRows, cpuMeter, listenOverflows, sleep } from '../lib/system.mjs';

const q1 = async (pool, sql, params) => Number((await pool.query(sql, params)).rows[0].n);
const rawCount = committedRows;
const client = (sys, token, i) =>
  new LeanMqttClient({
    host: '127.0.0.1',
    port: sys.mqttPort,
    clientId: `dev-${i}`,
    username: token,
    keepalive: 120,
    connectTimeoutMs: 30_000,
    // Spread over source addresses: one address has ~28k ephemeral ports, some in TIME_WAIT.
    localAddress: `127.0.0.${2 + (i % 4)}`,
  });
const boot = (c) =>
  Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((l) => c.publish(TELEMETRY_TOPIC, mqttLinePayload(l, true), 1)));
async function until(fn, timeoutMs, stepMs = 200) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await fn()) return performance.now();
    await sleep(stepMs);
  }
  return null;
}
/** Every line of each client to one state, the clients spread evenly over one second. */
const flip = (clients, powered) =>
  Promise.all(
    clients.map(async (c, i) => {
      await sleep((i / clients.length) * 1000);
      await Promise.all(
        [1, 2, 3, 4, 5, 6, 7, 8].map((l) => c.publish(TELEMETRY_TOPIC, mqttLinePayload(l, powered), 1)),
      );
    }),
  );
const secs = (ms) => (ms === null ? null : Math.round(ms / 10) / 100);

export async function storms(sys, root, tokens, p) {
  const n = p.devices;
  // Alerts with a provider that only counts (the console provider's behaviour, without the log).
  const sms = [];
  const provider = {
    name: 'console',
    async send(msg) {
      sms.push({ to: msg.to, body: msg.body, at: performance.now() });
      return { provider: 'console', id: `bench-${sms.length}`, status: 'logged', to: msg.to, segments: 1 };
    },
  };
  const alertsMod = await import(pathToFileURL(join(root, 'apps/alerts/dist/alerts.js')).href);
  const { parseConfig } = await import('@spms/config');
  const { createLogger } = await import('@spms/log');
  const cfg = parseConfig(alertsMod.AlertsConfigSchema, {
    ALERT_DEBOUNCE_MS: String(p.debounceMs),
    ALERT_GROUP_WINDOW_MS: String(p.groupWindowMs),
    ALERT_GROUP_INTERVAL_MS: '60000',
  });
  const alerts = await alertsMod.startAlerts(
    { ...cfg, DATABASE_URL: sys.dbUrl, REDIS_URL: sys.redisUrl, REDIS_PREFIX: sys.prefix },
    { logger: createLogger({ name: 'bench-alerts', level: 'warn' }), provider },
  );
  const post = (path, body) =>
    fetch(`http://127.0.0.1:${sys.httpPort}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sys.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => {
      if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
    });
  const phones = [];
  for (let r = 0; r < p.regions; r++) {
    const phone = `+9477100${String(r).padStart(4, '0')}`;
    phones.push([phone, `Region ${r}`]);
    await post('/api/recipients', {
      name: `Region ${r} engineer`,
      phone,
      scopeKind: 'region',
      scopeValue: `Region ${r}`,
      kinds: ['outage'],
    });
  }
  phones.push(['+94771999999', 'all']);
  await post('/api/recipients', { name: 'Control room', phone: '+94771999999', scopeKind: 'all', kinds: ['outage'] });

  try {
    // Fleet up: connect at a ramp, boot sequences committed.
    const raw0 = await rawCount(sys.pool);
    let clients = [];
    for (let i = 0; i < n; i += 500) {
      const batch = tokens.slice(i, Math.min(n, i + 500)).map((t, k) => client(sys, t, i + k));
      await Promise.all(batch.map((c) => c.connect().then(() => boot(c))));
      clients.push(...batch);
    }
    await until(async () => (await rawCount(sys.pool)) - raw0 >= n * 8, 120_000);

    // ---- 5. Outage storm: the first m devices (regions are interleaved, so every region is hit) ----
    const m = Math.min(n, p.outageDevices);
    const flipping = clients.slice(0, m);
    const smsBefore = sms.length;
    const since = new Date(Date.now() - 1000);
    const meter = cpuMeter(sys.pids);
    const t0 = performance.now();
    await flip(flipping, false);
    const tAcked = performance.now();
    const openCount = () =>
      q1(sys.pool, 'SELECT count(*)::int AS n FROM outages WHERE started_at >= $1 AND ended_at IS NULL', [since]);
    const tAll = await until(async () => (await openCount()) >= m * 8, 90_000, 100);
    const outageCpu = meter();
    const committed = await openCount();
    // Texts: the debounce and group window pass, then wait until none arrive for 5 s (max 60 s).
    await sleep(p.debounceMs + p.groupWindowMs);
    for (let last = -1, still = 0, k = 0; k < 300 && still < 25; k++) {
      still = sms.length === last ? still + 1 : 0;
      last = sms.length;
      await sleep(200);
    }
    const storm = sms.slice(smsBefore);
    const perRecipient = Object.fromEntries(
      phones.map(([ph, scope]) => [scope, storm.filter((s) => s.to === ph).length]),
    );
    const outageStorm = {
      conditions: `${m} devices × 8 lines off within 1 s (${m * 8} outages; ${n} devices connected); ${p.regions} regions, ${p.regions} regional recipients + 1 for all; debounce ${p.debounceMs} ms, group window ${p.groupWindowMs} ms`,
      outages: m * 8,
      committed,
      publishAckedS: secs(tAcked - t0),
      allCommittedS: secs(tAll === null ? null : tAll - t0),
      smsTotal: storm.length,
      smsPerRecipient: perRecipient,
      firstSmsAfterS: storm.length ? secs(storm[0].at - t0) : null,
      cpuPct: outageCpu,
      sample: storm[0]?.body ?? null,
    };

    // Restore (quietly: recipients get outage texts only), then the grid-restore reconnect storm.
    await flip(flipping, true);
    await until(async () => (await openCount()) === 0, 90_000);

    // ---- 4. Reconnect storm ----
    for (const c of clients) c.destroy();
    clients = [];
    await sleep(3000);
    const raw1 = await rawCount(sys.pool);
    const meter2 = cpuMeter(sys.pids);
    const overflows0 = listenOverflows();
    let refused = 0;
    let errors = 0;
    const errorKinds = {};
    let connected = 0;
    let tConnected = 0;
    let tReported = 0;
    const t1 = performance.now();
    const deadline = t1 + p.timeoutS * 1000;
    await Promise.all(
      tokens.slice(0, n).map(async (token, i) => {
        // The firmware: a failed CONNECT means a reboot (here 1 s) and the same client id again.
        while (performance.now() < deadline) {
          const c = client(sys, token, i);
          try {
            await c.connect();
            connected++;
            tConnected = performance.now();
            clients.push(c);
            await boot(c);
            tReported = performance.now();
            return;
          } catch (err) {
            if (err?.returnCode !== undefined) refused++;
            else {
              errors++;
              const kind = err?.code ?? err?.message ?? String(err);
              errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
            }
            c.destroy();
            await sleep(1000);
          }
        }
      }),
    );
    const tCommitted = await until(async () => (await rawCount(sys.pool)) - raw1 >= n * 8, 90_000, 250);
    const reconnectStorm = {
      conditions: `${n} devices drop (TCP closed) and all reconnect at once; each sends its 8-message boot sequence; retry after 1 s on failure; limit ${p.timeoutS} s`,
      devices: n,
      connected,
      refused,
      errors,
      errorKinds,
      // Includes other processes on the machine; the broker listens with Node's default backlog (511).
      listenOverflows: overflows0 === null ? null : listenOverflows() - overflows0,
      allConnectedS: secs(tConnected - t1),
      allReportedS: secs(tReported - t1),
      allCommittedS: secs(tCommitted === null ? null : tCommitted - t1),
      cpuPct: meter2(),
    };
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
    return { outageStorm, reconnectStorm };
  } finally {
    await alerts.close();
  }
}
