/**
 * History import through the operator API (POST /api/devices/:idOrName/telemetry) into the
 * real worker: the outages of a day recorded before the device was registered come out
 * exactly, a gap in the readings is unknown time (not outage), re-posting adds nothing, and
 * the reliability report counts the lines from their first report (not from registration).
 */
import { createLogger } from '@spms/log';
import { INGEST_QUEUE } from '@spms/queue';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

const logger = createLogger({ name: 'e2e-history', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const ADMIN_KEY = 'history-admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const MIN = 60_000;
const HOUR = 60 * MIN;

let stack: E2eStack;
let app: FastifyInstance;
let queue: Queue;

beforeAll(async () => {
  stack = await startE2eStack('e2e_history', logger);
  app = await buildApp(
    loadApiConfig({
      DATABASE_URL: stack.db.url,
      REDIS_URL: stack.redis.url,
      REDIS_PREFIX: stack.redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: ADMIN_KEY,
    }),
  );
  queue = new Queue(INGEST_QUEUE, { connection: { url: stack.redis.url }, prefix: stack.redis.prefix });
});

afterAll(async () => {
  await queue?.close();
  await app?.close();
  await stack?.close();
});

async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every queued ingest job has been processed (the worker stored or skipped its messages). */
async function drained(): Promise<void> {
  await until(async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
    return Object.values(c).every((n) => n === 0);
  });
}

const count = async (table: string, deviceId: string) =>
  (await stack.sql.query(`SELECT count(*)::int AS n FROM ${table} WHERE device_id = $1`, [deviceId])).rows[0].n;

// A UTC day ten days ago: readings every minute (V as ThingsBoard returns it, a string),
// line states only when they change ("true"/"false" strings).
const base = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 10 * 86_400_000;
const GAP_FROM = base + 10 * HOUR; // last reading before a 30-minute silence
const GAP_TO = base + 10 * HOUR + 30 * MIN; // first reading after it
const changes = new Map<number, Record<string, string>>([
  [base, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [String(i + 1), 'true']))],
  [base + 2 * HOUR, { '1': 'false' }],
  [base + 3 * HOUR, { '1': 'true' }],
  [base + 9 * HOUR + 30 * MIN, { '3': 'false' }],
  [base + 11 * HOUR, { '3': 'true' }],
]);
const history: { ts: number; values: Record<string, string> }[] = [];
for (let ts = base; ts < base + 24 * HOUR; ts += MIN) {
  if (ts > GAP_FROM && ts < GAP_TO) continue;
  history.push({ ts, values: { V: (229 + (ts % 7) / 10).toFixed(1), ...changes.get(ts) } });
}

const post = (name: string, body: unknown, wait = false) =>
  app.inject({
    method: 'POST',
    url: `/api/devices/${name}/telemetry${wait ? '?wait=true' : ''}`,
    headers: admin,
    payload: body as object,
  });

describe('history import through the operator API', () => {
  it('reproduces the outages, treats a gap as unknown, re-posts add nothing, and the report counts the lines', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: admin,
      payload: { name: 'HIST_1', region: 'North' },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const half = Math.floor(history.length / 2);
    for (const part of [history.slice(0, half), history.slice(half)]) {
      const res = await post('HIST_1', part, true);
      expect(res.statusCode).toBe(202);
      // wait=true: answered once the worker stored the part (so the halves are evaluated in order).
      expect(res.json()).toMatchObject({ deviceId: id, entries: part.length, stored: true });
    }
    await drained();
    const outages = async () =>
      (
        await stack.sql.query(
          `SELECT line, (extract(epoch from started_at) * 1000)::float8 AS s, (extract(epoch from ended_at) * 1000)::float8 AS e,
                  duration_ms::float8 AS d, class FROM outages WHERE device_id = $1 ORDER BY started_at`,
          [id],
        )
      ).rows;
    const rows = await until(async () => {
      const r = await outages();
      return r.length === 2 && r.every((o) => o.e !== null) ? r : null;
    });
    expect(rows).toEqual([
      { line: 1, s: base + 2 * HOUR, e: base + 3 * HOUR, d: HOUR, class: 'sustained' },
      // Off from 9:30; the 30-minute silence from 10:00 is unknown, not outage: the outage is
      // known to 10:00 only (without the window it would run to 11:00, 90 minutes).
      { line: 3, s: base + 9 * HOUR + 30 * MIN, e: GAP_FROM, d: 30 * MIN, class: 'sustained' },
    ]);
    const before = {
      lines: await count('line_events', id),
      volts: await count('voltage_samples', id),
      raw: await count('telemetry_raw', id),
    };
    expect(before).toEqual({ lines: 12, volts: history.length, raw: 0 });

    // The same history again, in other batch sizes: nothing new is stored.
    for (let i = 0; i < history.length; i += 500)
      expect((await post('HIST_1', history.slice(i, i + 500))).statusCode).toBe(202);
    await drained();
    expect({
      lines: await count('line_events', id),
      volts: await count('voltage_samples', id),
      raw: await count('telemetry_raw', id),
    }).toEqual(before);
    expect(await outages()).toEqual(rows);

    // Every request is in the audit log, with what it imported.
    const audit = await stack.sql.query(
      `SELECT after FROM audit_log WHERE action = 'device.history.import' AND entity_id = $1 ORDER BY id`,
      [id],
    );
    expect(audit.rows.length).toBe(2 + Math.ceil(history.length / 500));
    expect(audit.rows[0].after).toMatchObject({ deviceId: id, entries: half, from: base });
    // Whether a posted request is stored yet (importers poll this behind a backlog).
    const stored = (ts: number) => app.inject({ url: `/api/devices/HIST_1/telemetry/stored?ts=${ts}`, headers: admin });
    expect((await stored(base)).json()).toEqual({ stored: true });
    expect((await stored(base + 1)).json()).toEqual({ stored: false });
    // An importer's progress, kept per device.
    const put = await app.inject({
      method: 'PUT',
      url: '/api/devices/HIST_1/telemetry/import-progress',
      headers: admin,
      payload: { source: 'test', from: base, through: base + HOUR },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ source: 'test', from: base, through: base + HOUR, firstReportAt: base });

    // Registered today, in service from its first report ten days ago: 8 lines, SAIDI 90/8 min.
    const q = `from=${new Date(base).toISOString()}&to=${new Date(base + 24 * HOUR).toISOString()}&groupBy=device`;
    const report = await app.inject({ url: `/api/reports/reliability?${q}`, headers: admin });
    expect(report.statusCode).toBe(200);
    const r = report.json();
    expect(r.fleet.lines).toBe(8);
    expect(r.fleet.main.sustained).toMatchObject({ count: 2, totalDurationMs: 90 * MIN });
    expect(r.fleet.main.indices.saidiMinutes).toBeCloseTo(90 / 8, 9);
    expect(r.fleet.main.indices.saifi).toBeCloseTo(2 / 8, 9);
  });

  it('refuses what the device gateway would refuse, and over 10,000 entries', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: admin,
      payload: { name: 'HIST_2' },
    });
    expect(created.statusCode).toBe(201);
    const seconds = await post('HIST_2', [{ ts: Math.floor(base / 1000), values: { '1': 'true' } }]);
    expect(seconds.statusCode).toBe(400);
    expect(seconds.json().message).toMatch(/entry 0 ts .* looks like seconds/);
    const badLine = await post('HIST_2', [{ ts: base, values: { '2': 'maybe' } }]);
    expect(badLine.statusCode).toBe(400);
    expect(badLine.json().message).toMatch(/line 2: "maybe" is not a line state/);
    const tooMany = await post(
      'HIST_2',
      Array.from({ length: 10_001 }, (_, i) => ({ ts: base + i * 1000, values: { V: 230 } })),
    );
    expect(tooMany.statusCode).toBe(413);
    expect((await post('NO_SUCH_DEVICE', [{ ts: base, values: { V: 230 } }])).statusCode).toBe(404);
  });
});
