#!/usr/bin/env node
/**
 * Alerts benchmark: BENCH_DEVICES devices (spread over BENCH_REGIONS regions) lose the CEB
 * line within one second; BENCH_RECIPIENTS recipients are subscribed by region (round
 * robin). The alerts processors run in-process against a fresh database and Redis prefix,
 * sending through the real Twilio SDK to the fake Twilio server.
 * Reports: texts per recipient, time from debounce expiry to the first/last text, provider
 * calls, and how long the events took to become alerts.
 *
 *   npm run bench:alerts
 *   BENCH_DEVICES=1000 BENCH_RECIPIENTS=20 BENCH_REGIONS=5 BENCH_DEBOUNCE_MS=3000 BENCH_GROUP_WINDOW_MS=1500 npm run bench:alerts
 */
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseConfig } from '@spms/config';
import { DOMAIN_EVENTS_QUEUE, type DomainEvent, domainEventJob } from '@spms/contracts';
import { createLogger } from '@spms/log';
import { createTwilioProvider, type SmsProvider } from '@spms/sms';
import { startFakeTwilio } from '@spms/sms/fakes';
import { bench } from '@spms/testing';
import { Queue } from 'bullmq';
import pg from 'pg';
import { AlertsConfigSchema, startAlerts } from '../alerts.js';

const { admin, cleanup, dbName, dbUrl, migrate, prefix, REDIS_URL } = bench;

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const DEVICES = env('BENCH_DEVICES', 1000);
const RECIPIENTS = env('BENCH_RECIPIENTS', 20);
const REGIONS = env('BENCH_REGIONS', 5);
const DEBOUNCE_MS = env('BENCH_DEBOUNCE_MS', 3000);
const GROUP_WINDOW_MS = env('BENCH_GROUP_WINDOW_MS', 1500);
const GROUP_INTERVAL_MS = env('BENCH_GROUP_INTERVAL_MS', 15_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  await admin(`CREATE DATABASE ${dbName}`);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  const logger = createLogger({ name: 'bench', level: process.env.LOG_LEVEL ?? 'warn', pretty: false });
  const twilio = await startFakeTwilio();
  const events = new Queue(DOMAIN_EVENTS_QUEUE, { connection: { url: REDIS_URL }, prefix });
  let alerts: { close(): Promise<void> } | undefined;
  try {
    await migrate(pool);
    const regions = Array.from({ length: REGIONS }, (_, i) => `Region ${i + 1}`);
    const devices = Array.from({ length: DEVICES }, () => randomUUID());
    await pool.query(
      `INSERT INTO devices (id, name, region, profile_id, updated_at)
       SELECT d, 'Site ' || i, ($2::text[])[((i - 1) % $3) + 1], '00000000-0000-4000-8000-000000000001', now()
         FROM unnest($1::uuid[]) WITH ORDINALITY AS x(d, i)`,
      [devices, regions, REGIONS],
    );
    await pool.query(
      `INSERT INTO device_lines (device_id, number, label) SELECT d, 1, 'CEB' FROM unnest($1::uuid[]) AS d`,
      [devices],
    );
    const recipients: string[] = [];
    for (let i = 0; i < RECIPIENTS; i++) {
      const phone = `+9477${String(1_000_000 + i).padStart(7, '0')}`;
      recipients.push(phone);
      await pool.query(
        `INSERT INTO alert_recipients (name, phone, scope_kind, scope_value, kinds) VALUES ($1, $2, 'region', $3, '{outage,restoration}')`,
        [`R${i}`, phone, regions[i % REGIONS]],
      );
    }
    // Every provider call, timed (the real SDK to the fake Twilio server).
    const inner = createTwilioProvider({
      accountSid: `AC${'0'.repeat(32)}`,
      authToken: 'bench-token',
      from: '+15005550006',
      apiBaseUrl: twilio.baseUrl,
    });
    const calls: { at: number; to: string; body: string }[] = [];
    const provider: SmsProvider = {
      name: 'twilio',
      send: (m) => {
        calls.push({ at: Date.now(), to: m.to, body: m.body });
        return inner.send(m);
      },
    };
    const config = {
      ...parseConfig(AlertsConfigSchema, {
        ALERT_DEBOUNCE_MS: String(DEBOUNCE_MS),
        ALERT_GROUP_WINDOW_MS: String(GROUP_WINDOW_MS),
        ALERT_GROUP_INTERVAL_MS: String(GROUP_INTERVAL_MS),
        ALERT_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? '8',
      }),
      DATABASE_URL: dbUrl,
      REDIS_URL,
      REDIS_PREFIX: prefix,
    };
    alerts = await startAlerts(config, { logger, provider });

    // The storm: every device loses CEB within one second (start times spread over 1 s).
    const t0 = Date.now();
    const starts = devices.map((_, i) => t0 + Math.floor((i * 1000) / DEVICES));
    const msgIds = devices.map(() => randomUUID());
    await pool.query(
      `INSERT INTO outages (device_id, line, started_at, start_msg_id, utility_feed)
       SELECT d, 1, to_timestamp(s / 1000.0), m, true FROM unnest($1::uuid[], $2::float8[], $3::text[]) AS x(d, s, m)`,
      [devices, starts, msgIds],
    );
    const evts: DomainEvent<'outage.opened'>[] = devices.map((d, i) => ({
      id: `outage.opened/${d}/1/${msgIds[i]}`,
      type: 'outage.opened',
      deviceId: d,
      occurredAt: starts[i] as number,
      payload: {
        outage: {
          line: 1,
          startedAt: starts[i] as number,
          startMsgId: msgIds[i] as string,
          startWindow: null,
          endedAt: null,
          endMsgId: null,
          endWindow: null,
          unknownMs: 0,
          durationMs: null,
          classification: null,
        },
        utilityFeed: true,
        wholeSite: false,
        label: 'CEB',
      },
    }));
    // Published as the ingest worker would, spread over the same second.
    for (let k = 0; k < 10; k++) {
      const slice = evts.slice((k * DEVICES) / 10, ((k + 1) * DEVICES) / 10);
      await events.addBulk(slice.map(domainEventJob));
      const wait = t0 + (k + 1) * 100 - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const published = Date.now();
    let alertsAt = 0;
    const deadline = Date.now() + DEBOUNCE_MS + GROUP_WINDOW_MS + GROUP_INTERVAL_MS + 60_000;
    let stableSince = Date.now();
    let lastCount = -1;
    while (Date.now() < deadline) {
      if (!alertsAt) {
        const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts');
        if (rows[0]?.n === DEVICES) alertsAt = Date.now();
      }
      if (calls.length !== lastCount) {
        lastCount = calls.length;
        stableSince = Date.now();
      }
      const allDue = Date.now() > Math.max(...starts) + DEBOUNCE_MS + 2 * GROUP_WINDOW_MS;
      const pending = Number((await pool.query('SELECT count(*)::int AS n FROM alert_pending')).rows[0]?.n);
      const quietFor = Date.now() - Math.max(stableSince, alertsAt);
      if (alertsAt && allDue && pending === 0 && quietFor > 2000 + 2 * GROUP_WINDOW_MS) break;
      await sleep(50);
    }
    const firstDue = Math.min(...starts) + DEBOUNCE_MS;
    const lastDue = Math.max(...starts) + DEBOUNCE_MS;
    const perRecipient = new Map<string, number>(recipients.map((r) => [r, 0]));
    for (const c of calls) perRecipient.set(c.to, (perRecipient.get(c.to) ?? 0) + 1);
    const counts = [...perRecipient.values()];
    // Texts to one recipient come from successive windows: never closer than about one window.
    const gaps = recipients.flatMap((r) => {
      const t = calls.filter((c) => c.to === r).map((c) => c.at);
      return t.slice(1).map((x, i) => x - (t[i] as number));
    });
    const result = {
      conditions: {
        devices: DEVICES,
        regions: REGIONS,
        recipients: RECIPIENTS,
        debounceMs: DEBOUNCE_MS,
        groupWindowMs: GROUP_WINDOW_MS,
        groupIntervalMs: GROUP_INTERVAL_MS,
        concurrency: config.ALERT_CONCURRENCY,
        cpus: cpus().length,
        loadavg1: Number(loadavg()[0]?.toFixed(2)),
        node: process.version,
      },
      eventsPublishedMs: published - t0,
      allAlertsStoredMs: alertsAt ? alertsAt - t0 : null,
      providerCalls: calls.length,
      twilioRequests: twilio.requests.length,
      textsPerRecipient: { min: Math.min(...counts), max: Math.max(...counts) },
      firstTextAfterDebounceMs: calls.length ? Math.min(...calls.map((c) => c.at)) - firstDue : null,
      lastTextAfterLastDebounceMs: calls.length ? Math.max(...calls.map((c) => c.at)) - lastDue : null,
      minGapBetweenTextsToOneRecipientMs: gaps.length ? Math.min(...gaps) : null,
      alertsNotified: (await pool.query('SELECT count(*)::int AS n FROM alerts WHERE notified_at IS NOT NULL')).rows[0]
        ?.n,
      itemsStillPending: (await pool.query('SELECT count(*)::int AS n FROM alert_pending')).rows[0]?.n,
      sampleText: calls[0]?.body ?? null,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await alerts?.close();
    await events.close();
    await twilio.close();
    await pool.end();
    await cleanup();
  }
}

await main();
