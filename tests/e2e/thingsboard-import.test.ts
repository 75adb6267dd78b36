/**
 * `spms import thingsboard` end to end: a fake ThingsBoard (thingsboard-fake.ts: paging,
 * expiring JWTs, string values, small limits, a 429, MQTT Basic credentials as a JSON string,
 * a device without credentials) with three months of history holding known outages → the CLI
 * → the real API → the ingest queue → the real worker. The outages come out exactly; an
 * interrupted import resumes; re-runs add nothing; the devices then connect over MQTT with
 * their ThingsBoard credentials. Bad input fails with the step named.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@spms/log';
import { INGEST_QUEUE } from '@spms/queue';
import { freePort } from '@spms/testing';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { run } from '../../apps/cli/src/run.js';
import { type E2eStack, startE2eStack } from './test-support/stack.js';
import { type FakeDevice, type FakeThingsBoard, startFakeThingsBoard } from './test-support/thingsboard-fake.js';

const logger = createLogger({ name: 'e2e-tb', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const ADMIN_KEY = 'tb-import-admin-key-0123456789abcdef';
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const base = Math.floor(Date.now() / DAY) * DAY - 100 * DAY;
const until = base + 91 * DAY;
const GAP_FROM = base + 14 * DAY; // B's last reading before two silent hours
const GAP_TO = GAP_FROM + 2 * HOUR;

/** Thirteen weeks: V every 20 min, line states at start and at each change, all as strings. */
function seriesOf(changes: [ts: number, line: number, on: boolean][], gap?: [number, number]) {
  const series: FakeDevice['series'] = {};
  for (let l = 1; l <= 8; l++) series[String(l)] = [{ ts: base, value: 'true' }];
  series.V = [];
  for (let ts = base; ts < until; ts += 20 * MIN)
    if (!gap || ts <= gap[0] || ts >= gap[1]) series.V.push({ ts, value: (229 + (ts % 9) / 10).toFixed(1) });
  for (const [ts, line, on] of changes) series[String(line)]?.push({ ts, value: on ? 'true' : 'false' });
  for (const rows of Object.values(series)) rows.sort((a, b) => a.ts - b.ts);
  return series;
}

const timeout = { inactivityTimeout: 30 * MIN };
const devices: FakeDevice[] = [
  {
    id: 'aaaaaaaa-0000-4000-8000-00000000000a',
    name: 'TB_A',
    type: 'default',
    customerTitle: 'Acme',
    createdTime: base,
    credentials: { credentialsType: 'ACCESS_TOKEN', credentialsId: 'tbA-12345', credentialsValue: null },
    attributes: {
      SERVER_SCOPE: { latitude: '6.9271', longitude: 79.8612, line_1: 'Pump', ...timeout },
      SHARED_SCOPE: {},
      CLIENT_SCOPE: { fw: '1.2' },
    },
    series: seriesOf([
      [base + 3 * DAY + 10 * HOUR, 1, false],
      [base + 3 * DAY + 11 * HOUR, 1, true],
      [base + 5 * DAY + 6 * HOUR, 2, false],
      [base + 5 * DAY + 6 * HOUR + 2 * MIN, 2, true],
      [base + 45 * DAY + 6 * HOUR, 6, false],
      [base + 45 * DAY + 9 * HOUR, 6, true],
    ]),
  },
  {
    id: 'bbbbbbbb-0000-4000-8000-00000000000b',
    name: 'TB_B',
    type: 'SPMS',
    customerTitle: 'Acme',
    createdTime: base,
    credentials: {
      credentialsType: 'MQTT_BASIC',
      credentialsId: null,
      credentialsValue: JSON.stringify({ clientId: 'b-cid', userName: 'b-user', password: 'b-pass' }),
    },
    attributes: { SERVER_SCOPE: { ...timeout }, SHARED_SCOPE: {}, CLIENT_SCOPE: {} },
    series: seriesOf(
      [
        [base + 10 * DAY + 8 * HOUR, 4, false],
        [base + 10 * DAY + 12 * HOUR + 30 * MIN, 4, true],
        [GAP_FROM - 20 * MIN, 5, false],
        [GAP_TO, 5, true],
        [base + 80 * DAY + HOUR, 7, false],
        [base + 80 * DAY + HOUR + 3 * MIN, 7, true],
      ],
      [GAP_FROM, GAP_TO],
    ),
  },
  {
    id: 'cccccccc-0000-4000-8000-00000000000c',
    name: 'TB_C',
    type: 'SPMS',
    customerTitle: 'Other',
    createdTime: base,
    credentials: null,
    attributes: { SERVER_SCOPE: { ...timeout }, SHARED_SCOPE: {}, CLIENT_SCOPE: {} },
    series: seriesOf([]),
  },
];

let stack: E2eStack;
let app: FastifyInstance;
let tb: FakeThingsBoard;
let queue: Queue;
let apiUrl: string;

beforeAll(async () => {
  stack = await startE2eStack('e2e_tb', logger);
  app = await buildApp(
    loadApiConfig({
      DATABASE_URL: stack.db.url,
      REDIS_URL: stack.redis.url,
      REDIS_PREFIX: stack.redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: ADMIN_KEY,
    }),
  );
  const port = await freePort();
  await app.listen({ port, host: '127.0.0.1' });
  apiUrl = `http://127.0.0.1:${port}`;
  tb = await startFakeThingsBoard({ username: 'tenant@example.com', password: 'secret', devices, tokenUses: 25 });
  queue = new Queue(INGEST_QUEUE, { connection: { url: stack.redis.url }, prefix: stack.redis.prefix });
});

afterAll(async () => {
  await queue?.close();
  await tb?.close();
  await app?.close();
  await stack?.close();
});

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    ['import', 'thingsboard', ...args],
    { SPMS_API_URL: apiUrl, SPMS_API_KEY: ADMIN_KEY },
    { out: (t) => out.push(t), err: (t) => err.push(t) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const signIn = ['--username', 'tenant@example.com', '--password', 'secret', '--retry-delay-ms', '10'];
const span = ['--since', new Date(base).toISOString(), '--until', new Date(until).toISOString()];

async function until_<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function drained(): Promise<void> {
  await until_(async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
    return Object.values(c).every((n) => n === 0);
  });
}

const q = async (text: string, params: unknown[] = []) => (await stack.sql.query(text, params)).rows;
const stored = async () =>
  (
    await q(`SELECT (SELECT count(*) FROM line_events)::int AS lines, (SELECT count(*) FROM voltage_samples)::int AS volts,
                    (SELECT count(*) FROM telemetry_raw)::int AS raw`)
  )[0];

describe('spms import thingsboard', () => {
  it('names the step when the password is wrong or ThingsBoard cannot be reached, and writes nothing', async () => {
    const bad = await cli('--url', tb.url, '--username', 'tenant@example.com', '--password', 'nope', ...span);
    expect(bad.code, bad.err).toBe(1);
    expect(bad.err).toMatch(/refused the sign-in as tenant@example.com .*check --username and --password/);
    const port = await freePort();
    const gone = await cli('--url', `http://127.0.0.1:${port}`, ...signIn, ...span);
    expect(gone.code, gone.err).toBe(3);
    expect(gone.err).toMatch(/cannot reach ThingsBoard at http:\/\/127\.0\.0\.1:\d+ while signing in/);
    // Not ThingsBoard at all (the SPMS API itself): the sign-in step says so.
    const wrong = await cli('--url', `${apiUrl}/not-thingsboard`, ...signIn, ...span);
    expect(wrong.code, wrong.err).toBe(1);
    expect(wrong.err).toMatch(/HTTP 404 while signing in/);
    expect(await q('SELECT name FROM devices')).toEqual([]);
  });

  it('a dry run lists what it would do and creates nothing', async () => {
    const r = await cli('--url', tb.url, ...signIn, ...span, '--dry-run', '--json');
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out);
    expect(report.devices.map((d: { name: string; action: string }) => [d.name, d.action])).toEqual([
      ['TB_A', 'would create'],
      ['TB_B', 'would create'],
      ['TB_C', 'would create'],
    ]);
    const other = await cli('--url', tb.url, ...signIn, ...span, '--dry-run', '--json', '--customer', 'Other');
    expect(JSON.parse(other.out).devices.map((d: { name: string }) => d.name)).toEqual(['TB_C']);
    expect(await q('SELECT name FROM devices')).toEqual([]);
  });

  it('imports devices and history; interrupted, it resumes; the outages come out exactly; re-runs add nothing', async () => {
    const reportFile = join(tmpdir(), `tb-import-${process.pid}.json`);
    // ThingsBoard goes away in the middle of TB_A's history.
    tb.breakAfterSeriesCalls = 30;
    const first = await cli('--url', tb.url, ...signIn, ...span, '--report', reportFile);
    expect(first.code).toBe(3);
    expect(first.err).toMatch(/cannot reach ThingsBoard at .* while reading series \w+ of TB_A \(.*re-run/);
    const partial = JSON.parse(await readFile(reportFile, 'utf8'));
    expect(partial.error).toMatch(/while reading series/);
    expect(partial.totals).toMatchObject({ listed: 3, created: 3, skipped: 0 });
    const byName = Object.fromEntries(partial.devices.map((d: { name: string }) => [d.name, d]));
    expect(byName.TB_A.warnings.join(' ')).toMatch(/profile "default" does not exist in SPMS/);
    // Kept as the firmware has them, with a warning: shorter than SPMS would generate.
    expect(byName.TB_A.warnings.join(' ')).toMatch(/access token is too short/);
    expect(byName.TB_C.warnings.join(' ')).toMatch(/did not reveal the credentials/);
    // Consistent: three devices with their ThingsBoard settings, TB_A's history partly recorded.
    const rows = await q(
      `SELECT d.name, d.customer, d.latitude, d.longitude, d.inactivity_timeout_sec AS t, c.type, c.client_id, c.username
         FROM devices d LEFT JOIN device_credentials c ON c.device_id = d.id ORDER BY d.name`,
    );
    expect(rows).toEqual([
      {
        name: 'TB_A',
        customer: 'Acme',
        latitude: 6.9271,
        longitude: 79.8612,
        t: 1800,
        type: 'ACCESS_TOKEN',
        client_id: null,
        username: null,
      },
      {
        name: 'TB_B',
        customer: 'Acme',
        latitude: null,
        longitude: null,
        t: 1800,
        type: 'MQTT_BASIC',
        client_id: 'b-cid',
        username: 'b-user',
      },
      {
        name: 'TB_C',
        customer: 'Other',
        latitude: null,
        longitude: null,
        t: 1800,
        type: null,
        client_id: null,
        username: null,
      },
    ]);
    const label = await q(
      `SELECT l.label FROM device_lines l JOIN devices d ON d.id = l.device_id WHERE d.name = 'TB_A' AND l.number = 1`,
    );
    expect(label).toEqual([{ label: 'Pump' }]);
    const progress = await q(
      `SELECT (extract(epoch FROM through_at) * 1000)::float8 AS t FROM device_history_imports h JOIN devices d ON d.id = h.device_id WHERE d.name = 'TB_A'`,
    );
    expect(progress.length).toBe(1);
    expect(progress[0].t).toBeLessThan(until);

    // ThingsBoard is back: the re-run resumes TB_A after its last recorded window.
    tb.breakAfterSeriesCalls = null;
    const second = await cli('--url', tb.url, ...signIn, ...span, '--report', reportFile);
    expect(second.code, second.err).toBe(0);
    const report = JSON.parse(await readFile(reportFile, 'utf8'));
    expect(report.totals).toMatchObject({ listed: 3, created: 0, unchanged: 3, skipped: 0 });
    expect(report.devices[0].history.resumedFrom).toBe(new Date(progress[0].t + 1).toISOString());
    // Not a terminal: plain progress lines per phase (devices, credentials, history), then the summary.
    expect(second.err).toMatch(/^devices: started$/m);
    expect(second.err).toMatch(/^devices: done in \S+ — 3 to import of 3 listed$/m);
    expect(second.err).toMatch(/^credentials: started \(3 devices\)$/m);
    expect(second.err).toMatch(/^credentials: \d+\/3 devices \(\d+%\), [\d.]+ devices\/s/m);
    expect(second.err).toMatch(/^history: started \(\d+ device-days\)$/m);
    expect(second.err).toMatch(/^history TB_A: resumed from \d{4}-/m);
    expect(second.err).toMatch(/^history: done in \S+ — \d+ readings imported, 6 outages derived$/m);
    expect(second.out).toMatch(/\d+ readings imported, 6 outages derived$/);
    expect(report.totals.outages).toBe(6);
    expect(report.devices.map((d: { history: { outages: number } }) => d.history.outages)).toEqual([3, 3, 0]);
    expect(tb.stats.throttled).toBe(1);
    expect(tb.stats.refreshes).toBeGreaterThan(0);
    await drained();
    const outages = await until_(async () => {
      const r = await q(
        `SELECT d.name, o.line, (extract(epoch FROM o.started_at) * 1000)::float8 AS s,
                (extract(epoch FROM o.ended_at) * 1000)::float8 AS e, o.duration_ms::float8 AS ms, o.class
           FROM outages o JOIN devices d ON d.id = o.device_id ORDER BY d.name, o.started_at`,
      );
      return r.length === 6 && r.every((o) => o.e !== null) ? r : null;
    });
    expect(outages).toEqual([
      {
        name: 'TB_A',
        line: 1,
        s: base + 3 * DAY + 10 * HOUR,
        e: base + 3 * DAY + 11 * HOUR,
        ms: HOUR,
        class: 'sustained',
      },
      {
        name: 'TB_A',
        line: 2,
        s: base + 5 * DAY + 6 * HOUR,
        e: base + 5 * DAY + 6 * HOUR + 2 * MIN,
        ms: 2 * MIN,
        class: 'momentary',
      },
      {
        name: 'TB_A',
        line: 6,
        s: base + 45 * DAY + 6 * HOUR,
        e: base + 45 * DAY + 9 * HOUR,
        ms: 3 * HOUR,
        class: 'sustained',
      },
      {
        name: 'TB_B',
        line: 4,
        s: base + 10 * DAY + 8 * HOUR,
        e: base + 10 * DAY + 12 * HOUR + 30 * MIN,
        ms: 270 * MIN,
        class: 'sustained',
      },
      // Off 20 minutes before two silent hours: the silence is unknown, not outage.
      { name: 'TB_B', line: 5, s: GAP_FROM - 20 * MIN, e: GAP_FROM, ms: 20 * MIN, class: 'sustained' },
      {
        name: 'TB_B',
        line: 7,
        s: base + 80 * DAY + HOUR,
        e: base + 80 * DAY + HOUR + 3 * MIN,
        ms: 3 * MIN,
        class: 'momentary',
      },
    ]);
    const counts = await stored();
    const readings = devices.reduce((n, d) => n + Object.values(d.series).reduce((m, s) => m + s.length, 0), 0);
    const volts = devices.reduce((n, d) => n + (d.series.V?.length ?? 0), 0);
    expect(counts).toEqual({ lines: readings - volts, volts, raw: 0 });

    // A re-run finds everything imported; one from an earlier --since re-posts it all: nothing new either way.
    const third = await cli('--url', tb.url, ...signIn, ...span, '--json');
    expect(third.code).toBe(0);
    expect(JSON.parse(third.out).totals.readings).toBe(0);
    const again = await cli(
      '--url',
      tb.url,
      ...signIn,
      '--since',
      new Date(base - DAY).toISOString(),
      '--until',
      new Date(until).toISOString(),
      '--json',
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out).totals.readings).toBe(readings);
    await drained();
    expect(await stored()).toEqual(counts);
    expect((await q('SELECT count(*)::int AS n FROM outages'))[0].n).toBe(6);
    // Derived from imported history: marked so, and no alert raised (the alerts are off here;
    // thingsboard-source.test.ts runs them).
    expect(await q(`SELECT DISTINCT source FROM outages`)).toEqual([{ source: 'import' }]);
  }, 180_000); // three months of history, four import runs: minutes on a loaded 2-core machine

  it('takes a JWT instead of a password (--token), --device narrows the import, a re-run updates what changed', async () => {
    const login = await fetch(`${tb.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'tenant@example.com', password: 'secret' }),
    });
    const { token } = (await login.json()) as { token: string };
    // TB_C was moved in ThingsBoard meanwhile: the re-run updates its location.
    const c = devices[2] as FakeDevice;
    c.attributes.SERVER_SCOPE = { ...c.attributes.SERVER_SCOPE, latitude: 7.25, longitude: '80.5' };
    const r = await cli('--url', tb.url, '--token', token, '--device', 'TB_C', '--history', 'none', '--json');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).devices.map((d: { name: string; action: string }) => [d.name, d.action])).toEqual([
      ['TB_C', 'updated'],
    ]);
    expect(await q(`SELECT latitude, longitude FROM devices WHERE name = 'TB_C'`)).toEqual([
      { latitude: 7.25, longitude: 80.5 },
    ]);
  });

  it('a malformed page stops the import naming the step; the re-run completes and stores nothing twice', async () => {
    await drained();
    const before = await stored();
    tb.malformedOnce = 'devices';
    const d = await cli('--url', tb.url, ...signIn, ...span);
    expect(d.code, d.err).toBe(1);
    expect(d.err).toMatch(/while listing devices \(page 0\) is malformed: "data" is not a list; .*re-run/);
    // TB_B again from an earlier start (not resumable: read from the beginning), a bad page on the way.
    const earlier = ['--device', 'TB_B', '--since', new Date(base - 2 * DAY).toISOString()];
    const to = ['--until', new Date(until).toISOString()];
    tb.malformedOnce = 'series';
    const s = await cli('--url', tb.url, ...signIn, ...earlier, ...to);
    expect(s.code, s.err).toBe(1);
    expect(s.err).toMatch(/while reading series \S+ of TB_B is malformed: reading 0 has no integer "ts"/);
    const again = await cli('--url', tb.url, ...signIn, ...earlier, ...to, '--json');
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out).totals.outages).toBe(3);
    await drained();
    expect(await stored()).toEqual(before);
    expect((await q('SELECT count(*)::int AS n FROM outages'))[0].n).toBe(6);
  }, 120_000);

  it('the imported devices connect over MQTT with their ThingsBoard credentials', async () => {
    const connect = (o: { clientId: string; username: string; password?: string }) => {
      const c = mqtt.connect({
        host: '127.0.0.1',
        port: stack.gateway.mqttPort,
        protocolVersion: 4,
        reconnectPeriod: 0,
        ...o,
      });
      return new Promise<mqtt.MqttClient>((resolve, reject) =>
        c.once('connect', () => resolve(c)).once('error', reject),
      );
    };
    const b = await connect({ clientId: 'b-cid', username: 'b-user', password: 'b-pass' });
    await b.publishAsync('v1/devices/me/telemetry', "{'V':231.5}", { qos: 1 });
    const a = await connect({ clientId: 'whatever', username: 'tbA-12345' });
    await until_(async () => {
      const r = await q(
        `SELECT 1 FROM voltage_samples v JOIN devices d ON d.id = v.device_id WHERE d.name = 'TB_B' AND v.volts = 231.5`,
      );
      return r.length === 1;
    });
    await Promise.all([a.endAsync(), b.endAsync()]);
  });
});
