/**
 * Alerts API: recipients CRUD (E.164, roles), alerts list / detail with delivery per
 * recipient / acknowledgement, and Twilio's signed delivery receipts.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';

const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const VIEWER_KEY = 'test-viewer-key-0123456789abcdef';
const SOUTHERN_KEY = 'test-southern-key-0123456789abcdef';
const TOKEN = 'twilio-auth-token-123';
const CALLBACK = 'https://alerts.example.lk/api/sms/status';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const viewer = { authorization: `Bearer ${VIEWER_KEY}` };
const southern = { authorization: `Bearer ${SOUTHERN_KEY}` };

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('alerts_api');
  redis = createTestRedis('alerts_api');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await pool.query(`INSERT INTO api_keys (id, name, key_hash, role) VALUES ($1, 'viewer', $2, 'viewer')`, [
    randomUUID(),
    createHash('sha256').update(VIEWER_KEY).digest('hex'),
  ]);
  // An operator limited to the Southern region.
  await pool.query(
    `INSERT INTO api_keys (id, name, key_hash, role, regions) VALUES ($1, 'southern', $2, 'operator', '{Southern}')`,
    [randomUUID(), createHash('sha256').update(SOUTHERN_KEY).digest('hex')],
  );
  app = await buildApp(
    loadApiConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: ADMIN_KEY,
      TWILIO_AUTH_TOKEN: TOKEN,
      SMS_STATUS_CALLBACK_URL: CALLBACK,
    }),
  );
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object, headers = admin) =>
  app.inject({ method, url, headers, ...(payload ? { payload } : {}) });

/** Twilio's classic signature: HMAC-SHA1(token, url + sorted key+value pairs), base64. */
function sign(url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', TOKEN).update(data).digest('base64');
}

const receipt = (params: Record<string, string>, signature?: string) =>
  app.inject({
    method: 'POST',
    url: '/api/sms/status',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature ? { 'x-twilio-signature': signature } : {}),
    },
    payload: new URLSearchParams(params).toString(),
  });

describe('recipients', () => {
  it('normalises phone numbers to E.164, refuses landlines, and needs role operator to edit', async () => {
    const created = await call('POST', '/api/recipients', {
      name: 'Duty engineer',
      phone: '077 123 4567',
      scopeKind: 'region',
      scopeValue: 'Western',
      kinds: ['outage', 'restoration'],
      quietStart: '22:00',
      quietEnd: '06:00',
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ phone: '+94771234567', scopeKind: 'region', enabled: true });
    const id = created.json().id;
    const landline = await call('POST', '/api/recipients', {
      name: 'Office',
      phone: '011 234 5678',
      scopeKind: 'all',
      kinds: ['outage'],
    });
    expect(landline.statusCode).toBe(400);
    expect(landline.json().message).toMatch(/phone/);
    const noValue = await call('POST', '/api/recipients', {
      name: 'X',
      phone: '0771234568',
      scopeKind: 'region',
      kinds: ['outage'],
    });
    expect(noValue.statusCode).toBe(400);
    const byViewer = await call('PATCH', `/api/recipients/${id}`, { enabled: false }, viewer);
    expect(byViewer.statusCode).toBe(403);
    expect((await call('GET', '/api/recipients', undefined, viewer)).json().items).toHaveLength(1);
    const upd = await call('PATCH', `/api/recipients/${id}`, { enabled: false, quietStart: null, quietEnd: null });
    expect(upd.json()).toMatchObject({ enabled: false, quietStart: null });
    expect((await call('DELETE', `/api/recipients/${id}`)).statusCode).toBe(200);
    expect((await call('GET', `/api/recipients/${id}`)).statusCode).toBe(404);
  });
});

describe('alerts and receipts', () => {
  let alertId: number;
  const sid = `SM${randomBytes(16).toString('hex')}`;

  beforeAll(async () => {
    const dev = randomUUID();
    await pool.query(
      `INSERT INTO devices (id, name, region, profile_id, updated_at) VALUES ($1, 'Kollupitiya', 'Western', '00000000-0000-4000-8000-000000000001', now())`,
      [dev],
    );
    await pool.query(`INSERT INTO device_lines (device_id, number, label) VALUES ($1, 1, 'CEB')`, [dev]);
    const a = await pool.query<{ id: string }>(
      `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id, notified_at)
       VALUES ('outage', 'k1', 'critical', $1, 1, 'Western', now() - interval '5 min', 'e1', now()) RETURNING id`,
      [dev],
    );
    alertId = Number(a.rows[0]?.id);
    const r = await pool.query<{ id: string }>(
      `INSERT INTO alert_recipients (name, phone, scope_kind, kinds) VALUES ('Duty', '+94771234567', 'all', '{outage}') RETURNING id`,
    );
    const n = await pool.query<{ id: string }>(
      `INSERT INTO notifications (recipient_id, phone, kind, body, status, provider, provider_message_id, attempts)
       VALUES ($1, '+94771234567', 'outage', 'SPMS ALERT: Kollupitiya - CEB supply lost', 'queued', 'twilio', $2, 1) RETURNING id`,
      [r.rows[0]?.id, sid],
    );
    await pool.query('INSERT INTO notification_alerts VALUES ($1, $2)', [n.rows[0]?.id, alertId]);
  });

  it('lists and filters alerts; viewers cannot acknowledge, operators can', async () => {
    const active = (await call('GET', '/api/alerts?status=active&severity=critical')).json();
    expect(active.items.map((a: { id: number }) => a.id)).toEqual([alertId]);
    expect(active.items[0]).toMatchObject({ status: 'ACTIVE_UNACK', lineLabel: 'CEB', deviceName: 'Kollupitiya' });
    expect((await call('GET', '/api/alerts?status=cleared')).json().items).toHaveLength(0);
    expect((await call('POST', `/api/alerts/${alertId}/ack`, undefined, viewer)).statusCode).toBe(403);
    const acked = await call('POST', `/api/alerts/${alertId}/ack`);
    expect(acked.json()).toMatchObject({ status: 'ACTIVE_ACK', acknowledgedBy: 'env:SPMS_ADMIN_API_KEY' });
    expect((await call('GET', '/api/alerts/999999')).statusCode).toBe(404);
  });

  it('a principal scoped to another region sees none of it and cannot acknowledge it', async () => {
    expect((await call('GET', '/api/alerts', undefined, southern)).json().items).toEqual([]);
    expect((await call('GET', `/api/alerts/${alertId}`, undefined, southern)).statusCode).toBe(404);
    expect((await call('POST', `/api/alerts/${alertId}/ack`, undefined, southern)).statusCode).toBe(404);
    expect((await call('GET', '/api/notifications', undefined, southern)).json().items).toEqual([]);
    expect((await call('GET', '/api/notifications', undefined, viewer)).json().items).toHaveLength(1);
    const outside = await call(
      'POST',
      '/api/recipients',
      { name: 'X', phone: '0771234569', scopeKind: 'region', scopeValue: 'Western', kinds: ['outage'] },
      southern,
    );
    expect(outside.statusCode).toBe(403);
  });

  it('verifies the Twilio signature: missing or tampered → 403', async () => {
    const params = { MessageSid: sid, MessageStatus: 'delivered', AccountSid: `AC${'0'.repeat(32)}` };
    expect((await receipt(params)).statusCode).toBe(403);
    const sig = sign(CALLBACK, params);
    expect((await receipt({ ...params, MessageStatus: 'failed' }, sig)).statusCode).toBe(403);
    expect((await receipt(params, sign('https://evil.example/api/sms/status', params))).statusCode).toBe(403);
    const { rows } = await pool.query('SELECT status FROM notifications WHERE provider_message_id = $1', [sid]);
    expect(rows[0].status).toBe('queued');
  });

  it('records receipts in order: a late "sent" never overwrites "delivered"; the alert shows it per recipient', async () => {
    for (const status of ['sent', 'delivered', 'sent']) {
      const params = { MessageSid: sid, MessageStatus: status, AccountSid: `AC${'0'.repeat(32)}` };
      expect((await receipt(params, sign(CALLBACK, params))).statusCode).toBe(204);
    }
    const detail = (await call('GET', `/api/alerts/${alertId}`, undefined, viewer)).json();
    expect(detail.deliveries).toEqual([
      expect.objectContaining({ phone: '+94771234567', status: 'delivered', recipientName: 'Duty' }),
    ]);
    // The second "sent" repeats a receipt already recorded: it adds no history row.
    expect(detail.notifications[0].history.map((h: { status: string }) => h.status)).toEqual(['sent', 'delivered']);
    const list = (await call('GET', `/api/notifications?alertId=${alertId}`)).json();
    expect(list.items).toHaveLength(1);
    expect(list.items[0]).toMatchObject({ status: 'delivered', providerMessageId: sid, alertIds: [alertId] });
  });
});
