/**
 * An alert told to a recipient on both channels shows one delivery per channel (the text's
 * and the e-mail's status), and the notifications say which channel and address.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';

const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('alert_deliveries_email');
  redis = createTestRedis('alert_deliveries_email');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
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
  await app?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

describe('alert deliveries by channel', () => {
  it('lists the latest text and the latest e-mail of a recipient on both', async () => {
    const device = randomUUID();
    await pool.query(
      `INSERT INTO devices (id, name, region, profile_id, updated_at) VALUES ($1, 'K1', 'Western', '00000000-0000-4000-8000-000000000001', now())`,
      [device],
    );
    const r = await app.inject({
      method: 'POST',
      url: '/api/recipients',
      headers: admin,
      payload: {
        name: 'Duty',
        phone: '0771234567',
        email: 'duty@example.lk',
        channel: 'both',
        scopeKind: 'all',
        kinds: ['outage'],
      },
    });
    expect(r.statusCode, r.body).toBe(201);
    const alert = await pool.query<{ id: string }>(
      `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id)
       VALUES ('outage', 'k1', 'critical', $1, 1, 'Western', now(), 'k1') RETURNING id::text`,
      [device],
    );
    const insert = (channel: string, status: string) =>
      pool.query<{ id: string }>(
        `WITH n AS (INSERT INTO notifications (recipient_id, channel, phone, email, subject, kind, body, status)
                    VALUES ($1, $2, CASE WHEN $2 = 'sms' THEN '+94771234567' END, CASE WHEN $2 = 'email' THEN 'duty@example.lk' END,
                            CASE WHEN $2 = 'email' THEN 'SPMS ALERT: K1' END, 'outage', 'SPMS ALERT: K1', $3) RETURNING id)
         INSERT INTO notification_alerts SELECT id, $4 FROM n RETURNING notification_id::text`,
        [r.json().id, channel, status, alert.rows[0]?.id],
      );
    await insert('sms', 'delivered');
    await insert('email', 'sent');
    const res = await app.inject({ url: `/api/alerts/${alert.rows[0]?.id}`, headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body.deliveries.map((d: Record<string, unknown>) => [d.channel, d.phone, d.email, d.status]).sort()).toEqual(
      [
        ['email', null, 'duty@example.lk', 'sent'],
        ['sms', '+94771234567', null, 'delivered'],
      ],
    );
    const mail = body.notifications.find((n: Record<string, unknown>) => n.channel === 'email');
    expect(mail).toMatchObject({ email: 'duty@example.lk', subject: 'SPMS ALERT: K1', phone: null });
  });
});
