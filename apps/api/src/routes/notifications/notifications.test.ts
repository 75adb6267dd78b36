/**
 * Notifications across scopes (a grouped text covering two regions is shown redacted to a
 * scoped principal) and replayed Twilio receipts (idempotent: no duplicate history rows, no
 * status regression).
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';

const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const NORTH_KEY = 'test-north-key-0123456789abcdef';
const TOKEN = 'twilio-auth-token-456';
const CALLBACK = 'https://alerts.example.lk/api/sms/status';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const north = { authorization: `Bearer ${NORTH_KEY}` };

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let pool: pg.Pool;
const ids = { alertN: 0, alertS: 0, onlyN: 0, mixed: 0, onlyS: 0, recipient: '' };

async function insertAlert(device: string, region: string, key: string): Promise<number> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id)
     VALUES ('outage', $2, 'critical', $1, 1, $3, now(), $2) RETURNING id`,
    [device, key, region],
  );
  return Number(rows[0]?.id);
}

async function insertText(phone: string, body: string, alerts: number[], sid: string | null = null): Promise<number> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO notifications (recipient_id, phone, kind, body, status, provider, provider_message_id, attempts, error_message)
     VALUES ($1, $2, 'outage', $3, 'queued', 'twilio', $4, 1, $5) RETURNING id`,
    [ids.recipient, phone, body, sid, `Twilio could not reach ${phone}`],
  );
  const id = Number(rows[0]?.id);
  for (const a of alerts) await pool.query('INSERT INTO notification_alerts VALUES ($1, $2)', [id, a]);
  return id;
}

beforeAll(async () => {
  db = await createTestDatabase('notifications_api');
  redis = createTestRedis('notifications_api');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await pool.query(
    `INSERT INTO api_keys (id, name, key_hash, role, regions) VALUES ($1, 'north', $2, 'operator', '{North}')`,
    [randomUUID(), createHash('sha256').update(NORTH_KEY).digest('hex')],
  );
  const [n, s] = [randomUUID(), randomUUID()];
  await pool.query(
    `INSERT INTO devices (id, name, region, profile_id, updated_at)
     VALUES ($1, 'N_DEV', 'North', '00000000-0000-4000-8000-000000000001', now()),
            ($2, 'S_DEV', 'South', '00000000-0000-4000-8000-000000000001', now())`,
    [n, s],
  );
  ids.alertN = await insertAlert(n, 'North', 'kn');
  ids.alertS = await insertAlert(s, 'South', 'ks');
  const r = await pool.query<{ id: string }>(
    `INSERT INTO alert_recipients (name, phone, scope_kind, kinds) VALUES ('Duty', '+94771110000', 'all', '{outage}') RETURNING id::text`,
  );
  ids.recipient = r.rows[0]?.id as string;
  ids.onlyN = await insertText('+94771110001', 'SPMS: N_DEV CEB lost', [ids.alertN]);
  ids.mixed = await insertText('+94771110002', 'SPMS: N_DEV and S_DEV CEB lost', [ids.alertN, ids.alertS]);
  ids.onlyS = await insertText('+94771110003', 'SPMS: S_DEV CEB lost', [ids.alertS]);
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

const get = (url: string, headers = north) => app.inject({ method: 'GET', url, headers });

describe('notifications for a scoped principal', () => {
  it('shows texts that concern the scope, redacting one that also covered another scope', async () => {
    const res = await get('/api/notifications');
    expect(res.statusCode).toBe(200);
    const items = res.json().items;
    expect(items.map((n: { id: number }) => n.id)).toEqual([ids.mixed, ids.onlyN]);
    expect(items[0]).toMatchObject({
      redacted: true,
      recipientId: null,
      recipientName: null,
      phone: null,
      body: null,
      providerMessageId: null,
      errorMessage: null,
      alertIds: [ids.alertN],
      status: 'queued',
    });
    expect(items[1]).toMatchObject({ redacted: false, phone: '+94771110001', alertIds: [ids.alertN] });
    expect(res.body).not.toMatch(/\+94771110002|\+94771110003|S_DEV/);
  });

  it('filters never reveal another scope: alertId outside → nothing; recipientId skips redacted texts', async () => {
    expect((await get(`/api/notifications?alertId=${ids.alertS}`)).json().items).toEqual([]);
    const byRecipient = (await get(`/api/notifications?recipientId=${ids.recipient}`)).json().items;
    expect(byRecipient.map((n: { id: number }) => n.id)).toEqual([ids.onlyN]);
  });

  it('an alert in scope shows its grouped text redacted, with no phone in its deliveries', async () => {
    const res = await get(`/api/alerts/${ids.alertN}`);
    expect(res.statusCode, res.body).toBe(200);
    const detail = res.json();
    expect(detail.notifications.map((n: { id: number; redacted: boolean }) => [n.id, n.redacted])).toEqual([
      [ids.mixed, true],
      [ids.onlyN, false],
    ]);
    expect(detail.deliveries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ notificationId: ids.mixed, phone: null, recipientName: null }),
        expect.objectContaining({ notificationId: ids.onlyN, phone: '+94771110001' }),
      ]),
    );
    expect(res.body).not.toMatch(/\+94771110002|S_DEV/);
  });

  it('an unscoped principal sees every text in full', async () => {
    const items = (await get('/api/notifications', admin)).json().items;
    expect(items.map((n: { id: number; redacted: boolean; phone: string }) => [n.id, n.redacted, n.phone])).toEqual([
      [ids.onlyS, false, '+94771110003'],
      [ids.mixed, false, '+94771110002'],
      [ids.onlyN, false, '+94771110001'],
    ]);
    expect(items[1].alertIds).toEqual([ids.alertN, ids.alertS]);
  });
});

/** Twilio's classic signature: HMAC-SHA1(token, url + sorted key+value pairs), base64. */
function sign(params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], CALLBACK);
  return createHmac('sha1', TOKEN).update(data).digest('base64');
}

async function receipt(sid: string, status: string, errorCode?: number) {
  const params: Record<string, string> = { MessageSid: sid, MessageStatus: status, AccountSid: `AC${'0'.repeat(32)}` };
  if (errorCode) params.ErrorCode = String(errorCode);
  const res = await app.inject({
    method: 'POST',
    url: '/api/sms/status',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sign(params) },
    payload: new URLSearchParams(params).toString(),
  });
  expect(res.statusCode, res.body).toBe(204);
}

async function state(id: number) {
  const n = await pool.query('SELECT status, error_code FROM notifications WHERE id = $1', [id]);
  const h = await pool.query(
    `SELECT status, error_code FROM notification_status_history WHERE notification_id = $1 AND source = 'callback' ORDER BY id`,
    [id],
  );
  return { status: n.rows[0].status, errorCode: n.rows[0].error_code, history: h.rows.map((r) => r.status) };
}

describe('replayed Twilio receipts', () => {
  const newSid = () => `SM${randomBytes(16).toString('hex')}`;

  it('a replayed receipt adds no history row and never moves the status back', async () => {
    const sid = newSid();
    const id = await insertText('+94771110004', 'x', [ids.alertN], sid);
    for (const s of ['sent', 'delivered', 'delivered', 'sent', 'sent']) await receipt(sid, s);
    expect(await state(id)).toEqual({ status: 'delivered', errorCode: null, history: ['sent', 'delivered'] });
  });

  it('a late first "sent" after "delivered" is history once, the status stays delivered', async () => {
    const sid = newSid();
    const id = await insertText('+94771110005', 'x', [ids.alertN], sid);
    for (const s of ['delivered', 'sent', 'delivered', 'sent']) await receipt(sid, s);
    expect(await state(id)).toEqual({ status: 'delivered', errorCode: null, history: ['delivered', 'sent'] });
  });

  it('a replayed failure with its error code is recorded once', async () => {
    const sid = newSid();
    const id = await insertText('+94771110006', 'x', [ids.alertN], sid);
    await receipt(sid, 'undelivered', 30003);
    await receipt(sid, 'undelivered', 30003);
    await Promise.all([receipt(sid, 'undelivered', 30003), receipt(sid, 'undelivered', 30003)]);
    expect(await state(id)).toEqual({ status: 'undelivered', errorCode: 30003, history: ['undelivered'] });
  });
});
