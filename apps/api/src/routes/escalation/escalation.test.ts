/**
 * /api/recipient-groups and /api/escalation-policies: CRUD as admin, reads in scope for
 * operators, validation messages that say what to fix, audit entries, and the escalation
 * state on GET /api/alerts/{id}.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';

const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const SOUTHERN_KEY = 'test-southern-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const southern = { authorization: `Bearer ${SOUTHERN_KEY}` };

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('escalation_api');
  redis = createTestRedis('escalation_api');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
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

const recipient = async (name: string, region: string) => {
  const res = await call('POST', '/api/recipients', {
    name,
    phone: '0771234567',
    scopeKind: 'region',
    scopeValue: region,
    kinds: ['outage'],
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id as string;
};

describe('escalation API', () => {
  it('groups and policies: create, read in scope, update, refuse what is wrong with a message saying what to fix', async () => {
    const south = await recipient('Sunil', 'Southern');
    const west = await recipient('Wasantha', 'Western');
    const g = await call('POST', '/api/recipient-groups', { name: 'Galle night', memberIds: [south] });
    expect(g.statusCode, g.body).toBe(201);
    expect(g.json()).toMatchObject({ name: 'Galle night', members: [{ id: south, name: 'Sunil' }] });
    const mixed = await call('POST', '/api/recipient-groups', { name: 'Island', memberIds: [south, west] });
    expect(mixed.statusCode).toBe(201);

    const p = await call('POST', '/api/escalation-policies', {
      name: 'Southern outages',
      scopeKind: 'region',
      scopeValue: 'Southern',
      severities: ['critical', 'major'],
      tiers: [
        { delaySec: 0, recipientIds: [south] },
        { delaySec: 900, groupIds: [g.json().id] },
      ],
    });
    expect(p.statusCode, p.body).toBe(201);
    expect(p.json()).toMatchObject({
      enabled: true,
      tiers: [
        { tier: 1, delaySec: 0, recipientIds: [south], groupIds: [] },
        { tier: 2, delaySec: 900, recipientIds: [], groupIds: [g.json().id] },
      ],
    });

    // A Southern operator sees the Southern group and policy, not the group with a Western member.
    const groups = (await call('GET', '/api/recipient-groups', undefined, southern)).json();
    expect(groups.items.map((x: { name: string }) => x.name)).toEqual(['Galle night']);
    expect((await call('GET', `/api/recipient-groups/${mixed.json().id}`, undefined, southern)).statusCode).toBe(404);
    const policies = (await call('GET', '/api/escalation-policies', undefined, southern)).json();
    expect(policies.items.map((x: { name: string }) => x.name)).toEqual(['Southern outages']);
    // …and writes nothing.
    const denied = await call('PATCH', `/api/escalation-policies/${p.json().id}`, { enabled: false }, southern);
    expect(denied.statusCode).toBe(403);

    const bad = async (url: string, body: object, status: number, message: RegExp) => {
      const res = await call('POST', url, body);
      expect(res.statusCode, res.body).toBe(status);
      expect(res.json().message).toMatch(message);
    };
    const one = [{ delaySec: 0, recipientIds: [south] }];
    await bad(
      '/api/escalation-policies',
      { name: 'x', scopeKind: 'region', tiers: one },
      400,
      /scopeValue is required/,
    );
    await bad(
      '/api/escalation-policies',
      { name: 'x', scopeKind: 'all', tiers: [] },
      400,
      /tiers: must NOT have fewer/,
    );
    await bad(
      '/api/escalation-policies',
      { name: 'x', scopeKind: 'all', tiers: [...one, { delaySec: 0, recipientIds: [south] }] },
      400,
      /tier 2: delaySec must be at least 1/,
    );
    await bad(
      '/api/escalation-policies',
      { name: 'x', scopeKind: 'all', tiers: [{ delaySec: 0 }] },
      400,
      /tier 1: name at least one recipient/,
    );
    const ghost = randomUUID();
    await bad(
      '/api/escalation-policies',
      { name: 'x', scopeKind: 'all', tiers: [{ delaySec: 0, groupIds: [ghost] }] },
      400,
      new RegExp(`tier 1: no recipient group ${ghost}`),
    );
    await bad(
      '/api/escalation-policies',
      { name: 'x', scopeKind: 'device', scopeValue: ghost, tiers: one },
      400,
      /scopeValue: no device/,
    );
    await bad('/api/escalation-policies', { name: 'Southern outages', scopeKind: 'all', tiers: one }, 409, /exists/);
    await bad('/api/recipient-groups', { name: 'y', memberIds: [ghost] }, 400, new RegExp(`no recipient ${ghost}`));

    // A group still named by a tier is not deleted; the message says where it is used.
    const del = await call('DELETE', `/api/recipient-groups/${g.json().id}`);
    expect(del.statusCode).toBe(409);
    expect(del.json().message).toBe(
      'group Galle night is a target of policy Southern outages (tier 2): remove it there first',
    );
    // Replacing the tiers frees it.
    const upd = await call('PATCH', `/api/escalation-policies/${p.json().id}`, { tiers: one });
    expect(upd.statusCode, upd.body).toBe(200);
    expect(upd.json().tiers).toHaveLength(1);
    expect((await call('DELETE', `/api/recipient-groups/${g.json().id}`)).statusCode).toBe(200);

    const audit = await pool.query<{ action: string }>(
      `SELECT action FROM audit_log WHERE entity_type IN ('recipient_group', 'escalation_policy') ORDER BY id`,
    );
    expect(audit.rows.map((r) => r.action)).toEqual([
      'recipient_group.create',
      'recipient_group.create',
      'escalation_policy.create',
      'escalation_policy.update',
      'recipient_group.delete',
    ]);
  });

  it('GET /api/alerts/{id} shows the escalation: where it stands and every step', async () => {
    const dev = await call('POST', '/api/devices', { name: 'GALLE_01', region: 'Southern' });
    expect(dev.statusCode, dev.body).toBe(201);
    const r = await recipient('Sunil 2', 'Southern');
    const { rows } = await pool.query<{ id: string }>(
      `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id)
       VALUES ('outage', 'k1', 'major', $1, 1, 'Southern', now(), 'e1') RETURNING id::text`,
      [dev.json().id],
    );
    const id = rows[0]?.id;
    expect((await call('GET', `/api/alerts/${id}`)).json().escalation).toBeNull();
    await pool.query(
      `INSERT INTO alert_escalation_state (alert_id, policy_name, next_tier, next_at) VALUES ($1, 'Southern outages', 2, now() + interval '15 minutes')`,
      [id],
    );
    await pool.query(
      `INSERT INTO alert_escalations (alert_id, tier, recipient_id, recipient_name, outcome) VALUES ($1, 1, $2, 'Sunil 2', 'notified')`,
      [id, r],
    );
    const res = await call('GET', `/api/alerts/${id}`, undefined, southern);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().escalation).toMatchObject({
      policyName: 'Southern outages',
      nextTier: 2,
      stoppedReason: null,
      steps: [{ tier: 1, recipientId: r, recipientName: 'Sunil 2', outcome: 'notified' }],
    });
  });
});
