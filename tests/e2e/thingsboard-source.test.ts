/**
 * Imported history is marked and silent, with the alerts running and a recipient for
 * everything: the outages derived from history posted through the operator API carry source
 * 'import' (API and CSV) and raise no alert and no text — also the one still open at the
 * end of the history, and also when the device, now connected to SPMS, ends it with a live
 * report. An outage that live data opens afterwards follows the live rules (alert and text).
 * Imported readings are not device activity: the device does not turn active (and then
 * offline with an alert) because of them.
 */

import { DOMAIN_EVENTS_QUEUE } from '@spms/contracts';
import { createLogger } from '@spms/log';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlerts } from '../../apps/alerts/src/alerts.js';
import { loadAlertsConfig } from '../../apps/alerts/src/config.js';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

const logger = createLogger({ name: 'e2e-tb-source', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const ADMIN_KEY = 'tb-source-admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const MIN = 60_000;
const HOUR = 60 * MIN;

let stack: E2eStack;
let app: FastifyInstance;
let alerts: { close(): Promise<void> };

beforeAll(async () => {
  stack = await startE2eStack('e2e_tb_source', logger);
  const common = {
    DATABASE_URL: stack.db.url,
    REDIS_URL: stack.redis.url,
    REDIS_PREFIX: stack.redis.prefix,
    LOG_LEVEL: 'silent',
  };
  app = await buildApp(loadApiConfig({ ...common, SPMS_ADMIN_API_KEY: ADMIN_KEY }));
  // The alerts process (apps/alerts), in-process (no Twilio variables: texts are recorded and logged).
  alerts = await startAlerts(
    loadAlertsConfig({
      ...common,
      ALERT_DEBOUNCE_MS: '0',
      ALERT_GROUP_WINDOW_MS: '50',
      ALERT_GROUP_INTERVAL_MS: '50',
    }),
    { logger },
  );
}, 60_000);

afterAll(async () => {
  await alerts?.close();
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

const one = async (q: string, params: unknown[] = []) => (await stack.sql.query(q, params)).rows;

describe('imported history: source and alerts', () => {
  it('marks imported outages, texts none of them (open at the end included), and live ones as usual', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: admin,
      payload: {
        name: 'SRC_1',
        region: 'North',
        credentials: { type: 'MQTT_BASIC', clientId: 'src-1', username: 'src1', password: 'src-1-password' },
      },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const recipient = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: {
        name: 'Duty',
        phone: '0771234567',
        scopeKind: 'all',
        kinds: ['outage', 'restoration', 'device_offline', 'device_online', 'voltage'],
      },
    });
    expect(recipient.statusCode).toBe(201);

    // Two hours of history ending a minute ago: line 2 off and on (closed), line 3 off at the end (open).
    const start = Date.now() - 2 * HOUR;
    const history: { ts: number; values: Record<string, string> }[] = [
      { ts: start, values: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [String(i + 1), 'true'])) },
    ];
    for (let ts = start + MIN; ts < start + 2 * HOUR - MIN; ts += MIN) {
      const values: Record<string, string> = { V: '230.0' };
      if (ts === start + 10 * MIN) values['2'] = 'false';
      if (ts === start + 40 * MIN) values['2'] = 'true';
      if (ts === start + 90 * MIN) values['3'] = 'false';
      history.push({ ts, values });
    }
    const posted = await app.inject({
      method: 'POST',
      url: '/api/devices/SRC_1/telemetry?wait=true',
      headers: admin,
      payload: history,
    });
    expect(posted.statusCode).toBe(202);
    expect(posted.json().stored).toBe(true);
    const imported = await until(async () => {
      const rows = await one(
        'SELECT line, ended_at IS NULL AS open, source FROM outages WHERE device_id = $1 ORDER BY line',
        [id],
      );
      return rows.length === 2 ? rows : null;
    });
    expect(imported).toEqual([
      { line: 2, open: false, source: 'import' },
      { line: 3, open: true, source: 'import' },
    ]);
    // The domain events of the import were published (so the alerts saw them) and raised nothing.
    await until(async () => (await one('SELECT 1 FROM domain_events WHERE published_at IS NULL')).length === 0);
    // Imported readings are not activity: the device stays inactive (no device-offline to come).
    expect(await one('SELECT active FROM device_state WHERE device_id = $1', [id])).toEqual([
      expect.objectContaining({ active: false }),
    ]);

    // The device arrives over MQTT and reports line 3 back on: the imported outage closes silently.
    const device = await mqtt.connectAsync({
      host: '127.0.0.1',
      port: stack.gateway.mqttPort,
      clientId: 'src-1',
      username: 'src1',
      password: 'src-1-password',
      reconnectPeriod: 0,
    });
    try {
      await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ '3': 'true' }), { qos: 1 });
      await until(
        async () =>
          (await one('SELECT 1 FROM outages WHERE device_id = $1 AND line = 3 AND ended_at IS NOT NULL', [id]))
            .length === 1,
      );
      // Then a live outage: alerted and texted as usual.
      await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ '5': 'false' }), { qos: 1 });
      const notified = await until(async () => {
        const rows = await one(
          `SELECT a.line, a.type, n.kind FROM alerts a
             JOIN notification_alerts na ON na.alert_id = a.id JOIN notifications n ON n.id = na.notification_id`,
        );
        return rows.length > 0 ? rows : null;
      });
      expect(notified).toEqual([{ line: 5, type: 'outage', kind: expect.any(String) }]);
    } finally {
      await device.endAsync();
    }
    // Every event handled by the alerts: only the live outage raised an alert (the imported ones none).
    const events = new Queue(DOMAIN_EVENTS_QUEUE, { connection: { url: stack.redis.url }, prefix: stack.redis.prefix });
    await until(async () => {
      const c = await events.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
      return Object.values(c).every((n) => n === 0);
    });
    await events.close();
    expect(await one('SELECT line, type FROM alerts ORDER BY id')).toEqual([{ line: 5, type: 'outage' }]);
    expect(await one('SELECT line, source FROM outages WHERE device_id = $1 ORDER BY line', [id])).toEqual([
      { line: 2, source: 'import' },
      { line: 3, source: 'import' },
      { line: 5, source: 'live' },
    ]);

    // The reports themselves too: imported line events are 'import+ts', live ones 'mqtt'.
    expect(await one('SELECT DISTINCT source FROM line_events WHERE device_id = $1 ORDER BY source', [id])).toEqual([
      { source: 'import+ts' },
      { source: 'mqtt' },
    ]);

    // The outage API and its CSV say where each outage came from; ?source= filters.
    const listed = await app.inject({ url: '/api/outages?device=SRC_1', headers: admin });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().items.map((o: { line: number; source: string }) => [o.line, o.source])).toEqual([
      [5, 'live'],
      [3, 'import'],
      [2, 'import'],
    ]);
    const onlyImported = await app.inject({ url: '/api/outages?device=SRC_1&source=import', headers: admin });
    expect(onlyImported.json().items).toHaveLength(2);
    const csv = await app.inject({ url: '/api/outages?device=SRC_1&format=csv', headers: admin });
    const [header, ...lines] = csv.body.trim().split(/\r?\n/);
    expect(header?.split(',').at(-1)).toBe('source');
    expect(lines.map((l) => l.split(',').at(-1))).toEqual(['live', 'import', 'import']);

    // No TB_BRIDGE_URL in these workers: the bridge is off, nothing was queued for ThingsBoard.
    const system = await app.inject({ url: '/api/system', headers: admin });
    expect(system.json().thingsboardBridge).toEqual({ state: 'off', backlog: 0, dropped: 0, leader: null });
  });
});
