import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { adminAuth, bearer, createUser, signIn, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let northOp: { authorization: string };
let northViewer: { authorization: string };

const window = (from: string, to: string) => ({
  startsAt: `2026-12-01T${from}:00+05:30`,
  endsAt: `2026-12-01T${to}:00+05:30`,
});

beforeAll(async () => {
  db = await createTestDatabase('planned');
  redis = createTestRedis('planned');
  app = await buildApp(loadApiConfig(testEnv(db, redis)));
  for (const [name, region] of [
    ['N1_MSAN', 'North'],
    ['S1_MSAN', 'South'],
  ])
    await app.inject({ method: 'POST', url: '/api/devices', headers: adminAuth, payload: { name, region } });
  const op = await createUser(app, { username: 'nop', role: 'operator', regions: ['North'] });
  northOp = bearer(await signIn(app, 'nop', op.password));
  const v = await createUser(app, { username: 'nview', role: 'viewer', regions: ['North'] });
  northViewer = bearer(await signIn(app, 'nview', v.password));
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

const post = (payload: object, headers = adminAuth) =>
  app.inject({ method: 'POST', url: '/api/planned', headers, payload });

describe('planned interruptions', () => {
  it('keeps the table shape the reporting queries join on', async () => {
    const cols = await app.pg.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'planned_interruptions' ORDER BY column_name`,
    );
    expect(cols.rows.map((r) => r.column_name)).toEqual(
      ['created_at', 'created_by', 'device_id', 'ends_at', 'id', 'reason', 'region', 'starts_at'].sort(),
    );
    await expect(
      app.pg.query(
        `INSERT INTO planned_interruptions (id, starts_at, ends_at, reason, created_by)
         VALUES (gen_random_uuid(), now(), now() + interval '1 hour', 'x', 'test')`,
      ),
    ).rejects.toThrow(/planned_interruptions_target_check/);
  });

  it('creates region and device windows, and says what is wrong with bad ones', async () => {
    const region = await post({
      region: 'South',
      ...window('09:00', '11:00'),
      reason: 'CEB load shedding, schedule B',
    });
    expect(region.statusCode).toBe(201);
    expect(region.json()).toMatchObject({
      region: 'South',
      deviceId: null,
      startsAt: '2026-12-01T03:30:00.000Z',
      createdBy: 'admin-key:env:SPMS_ADMIN_API_KEY',
    });
    const device = await post({ device: 'N1_MSAN', ...window('14:00', '15:00'), reason: 'transformer work' }, northOp);
    expect(device.statusCode).toBe(201);
    expect(device.json()).toMatchObject({ region: null, deviceName: 'N1_MSAN' });

    const both = await post({ region: 'North', device: 'N1_MSAN', ...window('09:00', '10:00'), reason: 'x' });
    expect(both.statusCode).toBe(400);
    expect(both.json().message).toMatch(/exactly one of "region" or "device"/);
    const backwards = await post({ region: 'North', ...window('10:00', '09:00'), reason: 'x' });
    expect(backwards.json().message).toMatch(/endsAt: must be after startsAt/);
    const badDate = await post({ region: 'North', startsAt: 'tomorrow', endsAt: 'later', reason: 'x' });
    expect(badDate.statusCode).toBe(400);
    expect(badDate.json().message).toMatch(/startsAt/);
    expect((await post({ device: 'NOPE', ...window('09:00', '10:00'), reason: 'x' })).statusCode).toBe(404);
  });

  it('shows a scoped user only windows for their devices and regions', async () => {
    await post({ region: 'North', ...window('18:00', '19:00'), reason: 'schedule A' });
    const all = (await app.inject({ url: '/api/planned', headers: adminAuth })).json();
    const north = (await app.inject({ url: '/api/planned', headers: northViewer })).json();
    expect(all.total).toBe(3);
    expect(north.total).toBe(2);
    expect(north.items.every((p: { region: string | null; deviceName: string | null }) => p.region !== 'South')).toBe(
      true,
    );
    const south = all.items.find((p: { region: string | null }) => p.region === 'South');
    expect((await app.inject({ url: `/api/planned/${south.id}`, headers: northViewer })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/api/planned/${south.id}`, headers: northOp })).statusCode).toBe(
      404,
    );
    // A North operator cannot move a window to the South.
    const mine = north.items.find((p: { deviceName: string | null }) => p.deviceName === 'N1_MSAN');
    const moved = await app.inject({
      method: 'PATCH',
      url: `/api/planned/${mine.id}`,
      headers: northOp,
      payload: { device: 'S1_MSAN' },
    });
    expect(moved.statusCode).toBe(404);
    const filtered = (
      await app.inject({
        url: `/api/planned?from=${encodeURIComponent('2026-12-01T17:00:00+05:30')}`,
        headers: adminAuth,
      })
    ).json();
    expect(filtered.items.map((p: { reason: string }) => p.reason)).toEqual(['schedule A']);
  });

  it('updates and deletes, and audits both', async () => {
    const created = (await post({ device: 'N1_MSAN', ...window('06:00', '07:00'), reason: 'first' }, northOp)).json();
    const patched = await app.inject({
      method: 'PATCH',
      url: `/api/planned/${created.id}`,
      headers: northOp,
      payload: { reason: 'rescheduled', endsAt: '2026-12-01T08:00:00+05:30' },
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ reason: 'rescheduled', endsAt: '2026-12-01T02:30:00.000Z' });
    expect(
      (await app.inject({ method: 'DELETE', url: `/api/planned/${created.id}`, headers: northOp })).statusCode,
    ).toBe(200);
    expect((await app.inject({ url: `/api/planned/${created.id}`, headers: adminAuth })).statusCode).toBe(404);
    const entries = (
      await app.inject({ url: `/api/audit?entityType=planned&entityId=${created.id}`, headers: adminAuth })
    ).json().items;
    expect(entries.map((e: { action: string }) => e.action)).toEqual([
      'planned.delete',
      'planned.update',
      'planned.create',
    ]);
    expect(entries[1].before).toMatchObject({ reason: 'first' });
    expect(entries[1].after).toMatchObject({ reason: 'rescheduled' });
  });
});
