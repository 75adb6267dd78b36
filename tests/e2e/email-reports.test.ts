/**
 * Scheduled reliability reports by e-mail, end to end: a subscription made through the API,
 * a known month of outages, two report schedulers (as two API processes) against the same
 * PostgreSQL and Redis, the worker's e-mail sender and a local SMTP server. One e-mail for
 * the month however many schedulers pass and after a restart; its indices, worst sites and
 * CSV attachment match the API's own reliability report and the hand-computed figures.
 */
import { createPool, type Pool } from '@spms/db';
import { createLogger } from '@spms/log';
import {
  createTestDatabase,
  createTestRedis,
  type SmtpSink,
  startSmtpSink,
  type TestDatabase,
  type TestRedis,
} from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmailSender, startEmailSender } from '../../apps/alerts/src/email-send.js';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { type ReportScheduler, startReportScheduler } from '../../apps/api/src/report-schedule/scheduler.js';

const logger = createLogger({ name: 'e2e-reports', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const ADMIN_KEY = 'reports-admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const TZ = 'Asia/Colombo';
const PROFILE = '00000000-0000-4000-8000-0000000000aa';
const W1 = '00000000-0000-4000-8000-000000000011';
const W2 = '00000000-0000-4000-8000-000000000012';
const S1 = '00000000-0000-4000-8000-000000000013';
const local = (s: string) => `${s}+05:30`;
// Local midnight starting 1 December 2026, plus five minutes: November is owed.
const DEC_1_0005 = Date.parse(local('2026-12-01T00:05:00'));

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;
let sink: SmtpSink;
let sender: EmailSender;
const closers: (() => Promise<unknown>)[] = [];

async function seed(): Promise<void> {
  await pool.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'SPMS-test', now())`, [PROFILE]);
  await pool.query(
    `INSERT INTO devices (id, name, region, customer, profile_id, created_at, updated_at)
     VALUES ($1, 'W1_MSAN', 'Western', 'C1', $4, '2026-01-01Z', now()),
            ($2, 'W2_MSAN', 'Western', 'C2', $4, '2026-01-01Z', now()),
            ($3, 'S1_MSAN', 'Southern', 'C1', $4, '2026-01-01Z', now())`,
    [W1, W2, S1, PROFILE],
  );
  await pool.query(
    `INSERT INTO device_lines (device_id, number, label)
     SELECT d, n, CASE n WHEN 1 THEN 'CEB' WHEN 8 THEN 'MSAN' ELSE 'TP ' || n END
       FROM unnest($1::uuid[]) d, generate_series(1, 8) n`,
    [[W1, W2, S1]],
  );
  const outages: [string, number, string, string, string][] = [
    [W1, 1, '2026-11-10T10:00:00', '2026-11-10T12:00:00', 'sustained'], // 120 min
    [W1, 2, '2026-11-11T08:00:00', '2026-11-11T08:30:00', 'sustained'], // 30 min
    [W2, 1, '2026-11-12T09:00:00', '2026-11-12T09:02:00', 'momentary'], // 2 min
    [W2, 3, '2026-11-20T13:00:00', '2026-11-20T14:00:00', 'sustained'], // 60 min
    [S1, 1, '2026-11-05T00:00:00', '2026-11-05T00:45:00', 'sustained'], // another region
    [W1, 4, '2026-10-31T10:00:00', '2026-10-31T11:00:00', 'sustained'], // October
    [W1, 5, '2026-12-01T00:01:00', '2026-12-01T00:03:00', 'momentary'], // December
  ];
  for (const [i, [device, line, start, end, cls]] of outages.entries())
    await pool.query(
      `INSERT INTO outages (device_id, line, started_at, ended_at, unknown_ms, duration_ms, class, planned, start_msg_id, utility_feed)
       VALUES ($1, $2, $3::timestamptz, $4::timestamptz, 0, (extract(epoch FROM $4::timestamptz - $3::timestamptz) * 1000)::bigint,
               $5, false, $6, false)`,
      [device, line, local(start), local(end), cls, `o${i}`],
    );
}

beforeAll(async () => {
  db = await createTestDatabase('e2e_reports');
  redis = createTestRedis('e2e_reports');
  pool = createPool(db.url);
  sink = await startSmtpSink();
  await seed();
  app = await buildApp(
    loadApiConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: ADMIN_KEY,
    }),
  );
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await sender?.close();
  await app?.close();
  await sink?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

const scheduler = (): ReportScheduler => {
  const conn = new Redis(redis.url);
  const s = startReportScheduler({
    pg: pool,
    redis: conn,
    prefix: redis.prefix,
    timeZone: TZ,
    intervalMs: 0, // passes driven by the test's clock
    logger,
  });
  closers.push(async () => {
    await s.close();
    conn.disconnect();
  });
  return s;
};

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function parseCsv(text: string): string[][] {
  return text
    .replace(/^\uFEFF/, '')
    .trim()
    .split('\r\n')
    .map((l) => l.split(','));
}

describe('scheduled reliability report e-mails', () => {
  let subscription = '';

  it('recipients and report subscriptions through the API: an e-mail address is required and validated', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: { name: 'Planner', channel: 'email', email: 'planner@', scopeKind: 'all', kinds: ['outage'] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/^email: /);
    const noPhone = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: { name: 'Planner', channel: 'both', email: 'planner@example.lk', scopeKind: 'all', kinds: ['outage'] },
    });
    expect(noPhone.statusCode).toBe(400);
    expect(noPhone.json().message).toMatch(/phone is required for channel both/);
    const smsOnly = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: { name: 'Duty', phone: '0771234567', scopeKind: 'all', kinds: ['outage'] },
    });
    expect(smsOnly.statusCode, smsOnly.body).toBe(201);
    expect(smsOnly.json()).toMatchObject({ channel: 'sms', email: null, phone: '+94771234567', warnings: [] });
    const noEmail = await app.inject({
      method: 'POST',
      url: '/api/report-subscriptions',
      headers: admin,
      payload: { recipientId: smsOnly.json().id, scopeKind: 'all' },
    });
    expect(noEmail.statusCode).toBe(400);
    expect(noEmail.json().message).toMatch(/no e-mail address/);

    const created = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: { name: 'Planner', channel: 'email', email: 'Planner@Example.LK', scopeKind: 'all', kinds: ['outage'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    // No worker runs yet: nothing sends e-mail, and the answer says so.
    expect(created.json()).toMatchObject({ channel: 'email', email: 'Planner@example.lk', phone: null });
    expect(created.json().warnings).toEqual([expect.stringMatching(/no alert worker is running/)]);

    const sub = await app.inject({
      method: 'POST',
      url: '/api/report-subscriptions',
      headers: admin,
      payload: {
        recipientId: created.json().id,
        scopeKind: 'region',
        scopeValue: 'Western',
        monthly: true,
        worstSites: 5,
      },
    });
    expect(sub.statusCode, sub.body).toBe(201);
    expect(sub.json()).toMatchObject({ scopeKind: 'region', scopeValue: 'Western', monthly: true, weekly: false });
    subscription = sub.json().id;
    // The name ends up in a subject line: no line breaks.
    const crlf = await app.inject({
      method: 'POST',
      url: '/api/report-subscriptions',
      headers: admin,
      payload: { recipientId: created.json().id, scopeKind: 'region', scopeValue: 'Western\r\nBcc: x@evil.example' },
    });
    expect(crlf.statusCode).toBe(400);
    expect(crlf.json().message).toMatch(/control characters/);
    // Subscribed in mid-November: November is owed, October is not.
    await pool.query(`UPDATE report_subscriptions SET created_at = $2 WHERE id = $1`, [
      subscription,
      local('2026-11-15T09:00:00'),
    ]);
  });

  it('nothing before local midnight on the 1st; then one e-mail from two schedulers, and none after a restart', async () => {
    const a = scheduler();
    const b = scheduler();
    expect(await a.runOnce(Date.parse(local('2026-11-30T23:55:00')))).toEqual([]);
    // Both pass at once, as two API processes would.
    const [sa, sb] = await Promise.all([a.runOnce(DEC_1_0005), b.runOnce(DEC_1_0005)]);
    expect([...sa, ...sb]).toEqual([`${subscription}/monthly:2026-11`]);
    // The sender (the worker's, with SMTP_URL) starts after the job was queued.
    sender = await startEmailSender({
      pool,
      redisUrl: redis.url,
      prefix: redis.prefix,
      smtpUrl: sink.url,
      from: 'SPMS <spms@example.lk>',
      backoffMs: 100,
      timeoutMs: 5000,
      concurrency: 2,
      logger,
    });
    await waitFor(() => sink.messages.length >= 1);
    // Passes later in the month and a restarted process (a new scheduler) send nothing more.
    await Promise.all([a.runOnce(DEC_1_0005 + 3_600_000), b.runOnce(DEC_1_0005 + 86_400_000)]);
    const restarted = scheduler();
    expect(await restarted.runOnce(Date.parse(local('2026-12-03T08:00:00')))).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.messages).toHaveLength(1);
    const n = await pool.query(`SELECT status, response, kind, channel FROM notifications WHERE kind = 'report'`);
    expect(n.rows).toEqual([
      { status: 'sent', response: expect.stringMatching(/^250 /), kind: 'report', channel: 'email' },
    ]);
    const system = await app.inject({ url: '/api/system', headers: admin });
    expect(system.json().email).toMatchObject({ mode: 'smtp' });
    const listed = await app.inject({ url: `/api/report-subscriptions/${subscription}`, headers: admin });
    expect(listed.json()).toMatchObject({ lastPeriods: ['monthly:2026-11'], warnings: [] });
  });

  it('the e-mail carries the month’s indices, the worst sites and the API’s CSV', async () => {
    const m = sink.messages[0];
    expect(m?.to).toEqual(['Planner@example.lk']);
    expect(m?.subject).toBe('SPMS reliability report, November 2026: region Western');
    const api = await app.inject({
      url: `/api/reports/reliability?groupBy=customer&from=${encodeURIComponent(local('2026-11-01T00:00:00'))}&to=${encodeURIComponent(local('2026-12-01T00:00:00'))}`,
      headers: admin,
    });
    // The API's report for the whole fleet covers Southern too; the e-mail is Western's.
    expect(api.statusCode).toBe(200);
    const text = m?.text ?? '';
    // Western: 16 lines; 3 sustained (120 + 30 + 60 min) and 1 momentary (2 min) outage.
    expect(text).toContain('4 outages (3 sustained, 1 momentary), 212 line-minutes without power, 16 monitored lines.');
    expect(text).toMatch(/SAIFI 0\.188 {3}SAIDI \d+\.\d min {3}CAIDI \d+\.\d min {3}MAIFI 0\.063 {3}ASAI \d+\.\d{4} %/);
    const worst = text.slice(text.indexOf('Worst sites'));
    expect(worst.split('\n').slice(2, 6)).toEqual([
      '#  site     region   outage min  outages',
      '-  -------  -------  ----------  -------',
      '1  W1_MSAN  Western         150        2',
      '2  W2_MSAN  Western          62        2',
    ]);
    expect(text).toMatch(/By customer:/);
    expect(m?.attachments).toHaveLength(1);
    const csv = m?.attachments[0];
    expect(csv?.filename).toBe('spms-reliability-monthly-2026-11-Western.csv');
    expect(csv?.contentType).toBe('text/csv');
    const rows = parseCsv(csv?.content ?? '');
    expect(rows[0]?.slice(0, 12)).toEqual([
      'group',
      'name',
      'from',
      'to',
      'lines',
      'known_line_hours',
      'unknown_line_hours',
      'outages',
      'sustained',
      'momentary',
      'pending',
      'total_duration_ms',
    ]);
    const col = (r: string[] | undefined, name: string) => r?.[rows[0]?.indexOf(name) ?? -1];
    expect(rows.map((r) => r[0])).toEqual(['group', 'fleet', W1, W2]);
    expect([col(rows[1], 'lines'), col(rows[1], 'outages'), col(rows[1], 'total_duration_ms')]).toEqual([
      '16',
      '4',
      String(212 * 60_000),
    ]);
    expect(col(rows[1], 'from')).toBe('2026-11-01T00:00:00.000+05:30');
    expect(col(rows[1], 'to')).toBe('2026-12-01T00:00:00.000+05:30');
    expect([col(rows[2], 'name'), col(rows[2], 'total_duration_ms')]).toEqual(['W1_MSAN', String(150 * 60_000)]);
    expect([col(rows[3], 'name'), col(rows[3], 'total_duration_ms')]).toEqual(['W2_MSAN', String(62 * 60_000)]);
    expect(col(rows[1], 'saifi')).toBe(String(3 / 16));
    expect(col(rows[1], 'maifi')).toBe(String(1 / 16));
    // Same figures as the API's own CSV export for the region, by device.
    const apiCsv = await app.inject({
      url: `/api/reports/reliability?groupBy=device&format=csv&from=${encodeURIComponent(local('2026-11-01T00:00:00'))}&to=${encodeURIComponent(local('2026-12-01T00:00:00'))}`,
      headers: admin,
    });
    const apiRows = parseCsv(apiCsv.body);
    for (const id of [W1, W2]) expect(rows.find((r) => r[0] === id)).toEqual(apiRows.find((r) => r[0] === id));
    const saidi = col(rows[1], 'saidi_min');
    expect(text).toContain(`SAIDI ${Number(saidi).toFixed(1)} min`);
  });

  it('a weekly report missed over its Monday is sent at the next start, once', async () => {
    const recipient = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: { name: 'Weekly', channel: 'email', email: 'weekly@example.lk', scopeKind: 'all', kinds: ['outage'] },
    });
    const sub = await app.inject({
      method: 'POST',
      url: '/api/report-subscriptions',
      headers: admin,
      payload: { recipientId: recipient.json().id, scopeKind: 'all', monthly: false, weekly: true },
    });
    expect(sub.statusCode, sub.body).toBe(201);
    await pool.query(`UPDATE report_subscriptions SET created_at = $2 WHERE id = $1`, [
      sub.json().id,
      local('2026-11-20T09:00:00'),
    ]);
    // Week of Monday 23 November: one 20-minute outage at S1.
    await pool.query(
      `INSERT INTO outages (device_id, line, started_at, ended_at, unknown_ms, duration_ms, class, planned, start_msg_id, utility_feed)
       VALUES ($1, 2, $2, $3, 0, 1200000, 'sustained', false, 'w1', false)`,
      [S1, local('2026-11-24T10:00:00'), local('2026-11-24T10:20:00')],
    );
    const before = sink.messages.length;
    // Nothing ran over Monday 30 November; the first process starts on Wednesday.
    const first = scheduler();
    const sent = (
      await Promise.all([
        first.runOnce(Date.parse(local('2026-12-02T10:00:00'))),
        scheduler().runOnce(Date.parse(local('2026-12-02T10:00:00'))),
      ])
    ).flat();
    expect(sent).toEqual([`${sub.json().id}/weekly:2026-11-23`]);
    await waitFor(() => sink.messages.length > before);
    expect(await scheduler().runOnce(Date.parse(local('2026-12-02T11:00:00')))).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.messages.length).toBe(before + 1);
    const m = sink.messages.at(-1);
    expect(m?.subject).toBe('SPMS reliability report, week of Mon 23 Nov 2026: the whole fleet');
    expect(m?.to).toEqual(['weekly@example.lk']);
    expect(m?.text).toContain(
      '1 outage (1 sustained, 0 momentary), 20 line-minutes without power, 24 monitored lines.',
    );
    expect(m?.text.split('\n')).toContain('1  S1_MSAN  Southern          20        1');
    // 1 sustained interruption over 24 lines; 20 minutes over 24 lines.
    expect(m?.text).toContain('SAIFI 0.042   SAIDI 0.8 min   CAIDI 20.0 min   MAIFI 0.000');
    expect(m?.attachments[0]?.filename).toBe('spms-reliability-weekly-2026-11-23-fleet.csv');
  });
});
