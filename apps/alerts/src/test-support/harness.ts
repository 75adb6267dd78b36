/** Test support for the alerts tests (excluded from the build): fresh database, Redis prefix, fake Twilio. */
import { randomUUID } from 'node:crypto';
import { parseConfig } from '@spms/config';
import { DOMAIN_EVENTS_QUEUE, type DomainEvent } from '@spms/contracts';
import { createLogger } from '@spms/log';
import { type FakeTwilio, startFakeTwilio } from '@spms/sms/fakes';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { Queue } from 'bullmq';
import pg from 'pg';
import { afterEach } from 'vitest';
import { AlertsConfigSchema, startAlerts } from '../alerts.js';

const silent = createLogger({ name: 'test', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const PROFILE = '00000000-0000-4000-8000-000000000001';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A recipient's quiet hours from an hour before now to an hour after, in the fleet's zone. */
export function quietAroundNow(): { quiet_start: string; quiet_end: string } {
  // Asia/Colombo is UTC+05:30 all year (no daylight saving).
  const now = Math.floor(Date.now() / 60_000 + 330) % 1440;
  const clock = (min: number) => {
    const m = ((min % 1440) + 1440) % 1440;
    return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  };
  return { quiet_start: clock(now - 60), quiet_end: clock(now + 60) };
}

export interface H {
  db: TestDatabase;
  redis: TestRedis;
  pool: pg.Pool;
  events: Queue;
  twilio: FakeTwilio;
  start(): Promise<{ close(): Promise<void> }>;
  device(name: string, region?: string | null): Promise<string>;
  recipient(over?: Record<string, unknown>): Promise<string>;
  open(dev: string, line: number, opts?: { at?: number; utility?: boolean; jobSuffix?: string }): Promise<string>;
  close(dev: string, line: number, msgId: string, at?: number): Promise<void>;
  bodies(): string[];
  /** Any domain event, as the ingest worker publishes it. */
  emit(e: DomainEvent): Promise<unknown>;
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** `env` overrides the test defaults; a key set to undefined is left unset (as an install runs). */
export async function harness(env: Record<string, string | undefined> = {}): Promise<H> {
  const db = await createTestDatabase('alerts');
  const redis = createTestRedis('alerts');
  const twilio = await startFakeTwilio();
  const pool = new pg.Pool({ connectionString: db.url, max: 3 });
  // pg-pool's end() resolves before its clients' sockets have closed; db.drop() then
  // terminates them and an ending client reports it through the pool's 'error' event.
  pool.on('error', () => {});
  const events = new Queue(DOMAIN_EVENTS_QUEUE, { connection: { url: redis.url }, prefix: redis.prefix });
  const config = {
    ...parseConfig(AlertsConfigSchema, {
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'secret-token',
      TWILIO_FROM: '+15005550006',
      TWILIO_API_BASE_URL: twilio.baseUrl,
      ALERT_DEBOUNCE_MS: '300',
      ALERT_GROUP_WINDOW_MS: '400',
      ALERT_GROUP_INTERVAL_MS: '0',
      ALERT_SMS_BACKOFF_MS: '50',
      ALERT_CONCURRENCY: '4',
      ...env,
    } as Record<string, string>),
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
  };
  const running: { close(): Promise<void> }[] = [];
  cleanups.push(async () => {
    for (const r of running) await r.close();
    await events.close();
    await pool.end();
    await twilio.close();
    await redis.cleanup();
    await db.drop();
  });
  const outage = (line: number, startedAt: number, msgId: string, endedAt: number | null, endMsgId: string | null) => ({
    line,
    startedAt,
    startMsgId: msgId,
    startWindow: null,
    endedAt,
    endMsgId,
    endWindow: null,
    unknownMs: 0,
    durationMs: endedAt === null ? null : endedAt - startedAt,
    classification: null,
  });
  const enqueue = (e: DomainEvent, suffix = '') => events.add(e.type, e, { jobId: `${e.id}${suffix}` });
  return {
    db,
    redis,
    pool,
    events,
    twilio,
    async start() {
      const a = await startAlerts(config, { logger: silent });
      running.push(a);
      return a;
    },
    async device(name, region = 'Western') {
      const id = randomUUID();
      await pool.query(
        `INSERT INTO devices (id, name, label, region, profile_id, updated_at) VALUES ($1, $2, $2, $3, $4, now())`,
        [id, name, region, PROFILE],
      );
      await pool.query(
        `INSERT INTO device_lines (device_id, number, label) VALUES ($1, 1, 'CEB'), ($1, 2, 'Generator')`,
        [id],
      );
      return id;
    },
    async recipient(over = {}) {
      const r = {
        name: 'Duty',
        phone: '+94771234567',
        scope_kind: 'all',
        scope_value: null,
        kinds: ['outage', 'restoration'],
        quiet_start: null,
        quiet_end: null,
        ...over,
      };
      const { rows } = await pool.query<{ id: string }>(
        `INSERT INTO alert_recipients (name, phone, scope_kind, scope_value, kinds, quiet_start, quiet_end)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
        [r.name, r.phone, r.scope_kind, r.scope_value, r.kinds, r.quiet_start, r.quiet_end],
      );
      return rows[0]?.id as string;
    },
    async open(dev, line, opts = {}) {
      const at = opts.at ?? Date.now();
      const msgId = randomUUID();
      await pool.query(
        `INSERT INTO outages (device_id, line, started_at, start_msg_id, utility_feed) VALUES ($1, $2, to_timestamp($3 / 1000.0), $4, $5)`,
        [dev, line, at, msgId, opts.utility ?? false],
      );
      await enqueue(
        {
          id: `outage.opened/${dev}/${line}/${msgId}`,
          type: 'outage.opened',
          deviceId: dev,
          occurredAt: at,
          payload: {
            outage: outage(line, at, msgId, null, null),
            utilityFeed: opts.utility ?? false,
            wholeSite: false,
            label: null,
          },
        },
        opts.jobSuffix,
      );
      return msgId;
    },
    async close(dev, line, msgId, at = Date.now()) {
      const { rows } = await pool.query<{ s: number }>(
        `UPDATE outages SET ended_at = to_timestamp($4 / 1000.0) WHERE device_id = $1 AND line = $2 AND start_msg_id = $3
         RETURNING (extract(epoch from started_at) * 1000)::float8 AS s`,
        [dev, line, msgId, at],
      );
      const started = Math.round(rows[0]?.s ?? at);
      const end = randomUUID();
      await enqueue({
        id: `outage.closed/${dev}/${line}/${msgId}/${end}`,
        type: 'outage.closed',
        deviceId: dev,
        occurredAt: at,
        payload: { outage: outage(line, started, msgId, at, end), utilityFeed: false, wholeSite: false, label: null },
      });
    },
    bodies: () => twilio.requests.map((r) => r.form.Body ?? ''),
    emit: (e) => enqueue(e),
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(25);
  }
}
