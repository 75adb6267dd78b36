/**
 * A change and its audit entry commit together or not at all: with audit inserts made to
 * fail (a CHECK constraint in this test's private database), every audited route answers
 * 500 and leaves nothing behind; without it, each change leaves exactly one entry.
 */
import { randomUUID } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { adminAuth, bearer, createKey, createUser, signIn, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;

beforeAll(async () => {
  db = await createTestDatabase('audit-tx');
  redis = createTestRedis('audit-tx');
  app = await buildApp(loadApiConfig(testEnv(db, redis)));
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

const breakAudit = () =>
  app.pg.query('ALTER TABLE audit_log ADD CONSTRAINT audit_fails_for_test CHECK (false) NOT VALID');
const repairAudit = () => app.pg.query('ALTER TABLE audit_log DROP CONSTRAINT audit_fails_for_test');
const count = async (sql: string, params: unknown[] = []) =>
  (await app.pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, params)).rows[0]?.n;
const entries = (action: string) => count('SELECT 1 FROM audit_log WHERE action = $1', [action]);

interface Case {
  action: string;
  /** Sends the change (same request both times). */
  send: () => Promise<{ statusCode: number; body: string }>;
  /** How many rows the change leaves (0 before, 1 after — or the other way for deletes). */
  state: () => Promise<number | undefined>;
  expected: { without: number; with: number };
}

const post = (url: string, payload: unknown, headers: Record<string, string> = adminAuth) =>
  app.inject({ method: 'POST', url, headers, payload: payload as Record<string, unknown> });

describe('audit entries in the change transaction', () => {
  it('a change whose audit insert fails leaves nothing; a normal one leaves exactly one entry', async () => {
    const key = await createKey(app, { name: 'to-revoke' });
    const u = await createUser(app, { username: 'logs-out', role: 'viewer' });
    const session = await signIn(app, 'logs-out', u.password);
    const cases: Case[] = [
      {
        action: 'user.create',
        send: () => post('/api/users', { username: 'audited', role: 'viewer', password: 'correct-horse-battery-9' }),
        state: () => count(`SELECT 1 FROM users WHERE username = 'audited'`),
        expected: { without: 0, with: 1 },
      },
      {
        action: 'profile.create',
        send: () => post('/api/profiles', { name: 'Audited profile' }),
        state: () => count(`SELECT 1 FROM device_profiles WHERE name = 'Audited profile'`),
        expected: { without: 0, with: 1 },
      },
      {
        action: 'device.create',
        send: () => post('/api/devices', { name: 'audited-device' }),
        state: () => count(`SELECT 1 FROM devices WHERE name = 'audited-device'`),
        expected: { without: 0, with: 1 },
      },
      {
        action: 'api-key.revoke',
        send: () => app.inject({ method: 'DELETE', url: `/api/api-keys/${key.id}`, headers: adminAuth }),
        state: () => count('SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NOT NULL', [key.id]),
        expected: { without: 0, with: 1 },
      },
      {
        action: 'auth.logout',
        send: () => app.inject({ method: 'POST', url: '/api/auth/logout', headers: bearer(session) }),
        state: () => count('SELECT 1 FROM sessions WHERE user_id = $1', [u.id]),
        expected: { without: 1, with: 0 },
      },
    ];
    const base = new Map<string, number | undefined>();
    for (const c of cases) base.set(c.action, await entries(c.action));
    await breakAudit();
    try {
      for (const c of cases) {
        const res = await c.send();
        expect(res.statusCode, `${c.action}: ${res.body}`).toBe(500);
        expect(await c.state(), c.action).toBe(c.expected.without);
        expect(await entries(c.action), c.action).toBe(base.get(c.action));
      }
    } finally {
      await repairAudit();
    }
    for (const c of cases) {
      const res = await c.send();
      expect(res.statusCode, `${c.action}: ${res.body}`).toBeLessThan(300);
      expect(await c.state(), c.action).toBe(c.expected.with);
      expect(await entries(c.action), c.action).toBe((base.get(c.action) ?? 0) + 1);
    }
  });

  it('records SMS recipient changes and alert acknowledgements, each with its change or not at all', async () => {
    const recipient = { name: 'Duty engineer', phone: '077 123 4567', scopeKind: 'all', kinds: ['outage'] };
    await breakAudit();
    try {
      expect((await post('/api/recipients', recipient)).statusCode).toBe(500);
      expect(await count('SELECT 1 FROM alert_recipients')).toBe(0);
    } finally {
      await repairAudit();
    }
    const created = await post('/api/recipients', recipient);
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    const patched = await app.inject({
      method: 'PATCH',
      url: `/api/recipients/${id}`,
      headers: adminAuth,
      payload: { name: 'Night duty' },
    });
    expect(patched.statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: `/api/recipients/${id}`, headers: adminAuth })).statusCode).toBe(
      200,
    );
    const log = await app.pg.query<{
      action: string;
      before: { name?: string } | null;
      after: { name?: string } | null;
    }>(`SELECT action, before, after FROM audit_log WHERE entity_type = 'recipient' AND entity_id = $1 ORDER BY id`, [
      id,
    ]);
    expect(log.rows.map((r) => r.action)).toEqual(['recipient.create', 'recipient.update', 'recipient.delete']);
    expect(log.rows[1]).toMatchObject({ before: { name: 'Duty engineer' }, after: { name: 'Night duty' } });

    const dev = randomUUID();
    await app.pg.query(
      `INSERT INTO devices (id, name, region, profile_id, updated_at)
       VALUES ($1, 'ack-device', 'Western', '00000000-0000-4000-8000-000000000001', now())`,
      [dev],
    );
    const a = await app.pg.query<{ id: string }>(
      `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id)
       VALUES ('outage', 'ack-k', 'critical', $1, 1, 'Western', now(), 'ack-e') RETURNING id`,
      [dev],
    );
    const alertId = a.rows[0]?.id as string;
    const ack = () => post(`/api/alerts/${alertId}/ack`, undefined);
    const acked = () => count('SELECT 1 FROM alerts WHERE id = $1 AND acknowledged_at IS NOT NULL', [alertId]);
    const ackEntries = () =>
      count(`SELECT 1 FROM audit_log WHERE action = 'alert.acknowledge' AND entity_id = $1`, [alertId]);
    await breakAudit();
    try {
      expect((await ack()).statusCode).toBe(500);
      expect(await acked()).toBe(0);
    } finally {
      await repairAudit();
    }
    expect((await ack()).json()).toMatchObject({ status: 'ACTIVE_ACK' });
    expect((await ack()).statusCode).toBe(200); // a second ack changes nothing and logs nothing
    expect(await acked()).toBe(1);
    expect(await ackEntries()).toBe(1);
  });
});
