import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { adminAuth, bearer, createKey, createUser, signIn, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let op: { authorization: string };
let opUserId: string;

beforeAll(async () => {
  db = await createTestDatabase('audit');
  redis = createTestRedis('audit');
  app = await buildApp(loadApiConfig(testEnv(db, redis)));
  const u = await createUser(app, { username: 'olga', role: 'operator' });
  opUserId = u.id;
  op = bearer(await signIn(app, 'olga', u.password));
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

interface Entry {
  id: string;
  action: string;
  entityType: string;
  entityId: string | null;
  principalKind: string;
  userId: string | null;
  requestId: string | null;
  ip: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

const audit = async (query: string): Promise<{ items: Entry[]; nextCursor: string | null }> => {
  const res = await app.inject({ url: `/api/audit?${query}`, headers: adminAuth });
  expect(res.statusCode).toBe(200);
  return res.json();
};
const allAuditText = async () =>
  (await app.pg.query(`SELECT coalesce(before::text, '') || coalesce(after::text, '') AS t FROM audit_log`)).rows
    .map((r) => r.t)
    .join('\n');

describe('audit log', () => {
  it('records device changes with who, before and after — and never a secret', async () => {
    const created = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: op,
      payload: { name: '0007_MSAN', region: 'North', credentials: { type: 'MQTT_BASIC' } },
    });
    expect(created.statusCode).toBe(201);
    const device = created.json();
    const issuedPassword = device.issuedCredentials.password as string;
    await app.inject({ method: 'PATCH', url: '/api/devices/0007_MSAN', headers: op, payload: { label: 'Pump house' } });
    const rotated = await app.inject({
      method: 'POST',
      url: '/api/devices/0007_MSAN/credentials',
      headers: op,
      payload: { type: 'ACCESS_TOKEN' },
    });
    const token = rotated.json().issuedCredentials.token as string;
    await app.inject({
      method: 'POST',
      url: '/api/devices/0007_MSAN/attributes',
      headers: op,
      payload: { shared: { interval: 60 } },
    });
    await app.inject({ method: 'DELETE', url: '/api/devices/0007_MSAN', headers: op });

    const { items } = await audit(`entityType=device&entityId=${device.id}`);
    expect(items.map((e) => e.action)).toEqual([
      'device.delete',
      'device.attributes.push',
      'device.credentials.rotate',
      'device.update',
      'device.create',
    ]);
    const [del, push, rotate, update, create] = items as [Entry, Entry, Entry, Entry, Entry];
    expect(create).toMatchObject({ principalKind: 'session', userId: opUserId, before: null });
    expect(create.after).toMatchObject({ name: '0007_MSAN', region: 'North' });
    expect(create.requestId).toBeTruthy();
    expect(create.ip).toBeTruthy();
    expect(update.before).toMatchObject({ label: null });
    expect(update.after).toMatchObject({ label: 'Pump house' });
    expect(rotate.before).toMatchObject({ credentials: { type: 'MQTT_BASIC', hasPassword: true } });
    expect(rotate.after).toMatchObject({ credentials: { type: 'ACCESS_TOKEN' } });
    expect(push.after).toMatchObject({ shared: { interval: 60 } });
    expect(del.before).toMatchObject({ name: '0007_MSAN', label: 'Pump house' });
    expect(del.after).toBeNull();

    const text = await allAuditText();
    expect(text).not.toContain(issuedPassword);
    expect(text).not.toContain(token);
    expect(text).not.toMatch(/scrypt\$/);
  });

  it('records users, password resets and API keys without hashes or keys', async () => {
    const user = await createUser(app, { username: 'pavel', role: 'viewer', password: 'first-password-123' });
    await app.inject({
      method: 'PATCH',
      url: '/api/users/pavel',
      headers: adminAuth,
      payload: { role: 'operator', regions: ['South'] },
    });
    await app.inject({
      method: 'POST',
      url: '/api/users/pavel/password',
      headers: adminAuth,
      payload: { password: 'second-password-456' },
    });
    const { items } = await audit(`entityType=user&entityId=${user.id}`);
    expect(items.map((e) => e.action)).toEqual(['user.password_reset', 'user.update', 'user.create']);
    const [reset, update] = items as [Entry, Entry];
    expect(update.before).toMatchObject({ role: 'viewer', regions: null });
    expect(update.after).toMatchObject({ role: 'operator', regions: ['South'] });
    expect(update.principalKind).toBe('admin-key');
    expect(reset.after?.passwordChangedAt).not.toEqual(reset.before?.passwordChangedAt);

    const key = await createKey(app, { name: 'backup script', role: 'viewer' });
    await app.inject({ method: 'DELETE', url: `/api/api-keys/${key.id}`, headers: adminAuth });
    const keyEntries = (await audit(`entityType=api-key&entityId=${key.id}`)).items;
    expect(keyEntries.map((e) => e.action)).toEqual(['api-key.revoke', 'api-key.create']);
    expect(keyEntries[0]?.after).toMatchObject({ name: 'backup script' });
    expect(keyEntries[0]?.after?.revokedAt).toBeTruthy();
    const text = await allAuditText();
    for (const secret of ['first-password-123', 'second-password-456', key.key]) expect(text).not.toContain(secret);
  });

  it('pages newest first with a cursor and filters by action and time', async () => {
    for (let i = 0; i < 5; i++)
      await app.inject({ method: 'POST', url: '/api/profiles', headers: op, payload: { name: `P${i}` } });
    const all = (await audit('action=profile.create&limit=500')).items;
    expect(all).toHaveLength(5);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Entry[]; nextCursor: string | null } = await audit(
        `action=profile.create&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((e) => e.id));
    expect(seen.map(Number)).toEqual([...seen.map(Number)].sort((a, b) => b - a));
    expect((await audit(`action=profile.create&from=${new Date(Date.now() + 60_000).toISOString()}`)).items).toEqual(
      [],
    );
    const bad = await app.inject({ url: '/api/audit?cursor=abc', headers: adminAuth });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/cursor/);
  });
});
