/**
 * /api/rollouts: creating a rollout (its plan, bad input refused with what to fix, a device
 * in another unfinished rollout refused naming it), an operator's scope (a region outside it
 * 403, a device outside it 404 like a missing one, scopes narrowed to theirs), visibility of
 * rollouts to scoped callers, pause/resume/cancel (idempotent, 409 once finished, what cancel
 * does to devices in flight), rollbackOf, per-wave and per-device views, audit entries.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, type TestApi } from '../../test-support/test-api.js';
import { adminAuth, createKey } from '../users/access-fixtures.js';

let t: TestApi;
let northOp: { authorization: string };
let northViewer: { authorization: string };
let oldFw: string;
let newFw: string;
const PROFILE = '00000000-0000-4000-8000-000000000002';

async function insertFirmware(version: string): Promise<string> {
  const { rows } = await t.app.pg.query(
    `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
     VALUES ('spms-esp32', $1, 3, 'SHA256', 'abc', 'abc', lo_from_bytea(0, '\\x010203')) RETURNING id`,
    [version],
  );
  return rows[0].id;
}

async function insertDevices(n: number, prefix: string, region: string, customer: string): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await t.app.pg.query(
    `INSERT INTO devices (id, name, region, customer, profile_id, updated_at)
     SELECT id, $2 || '-' || lpad(ord::text, 2, '0'), $3, $4, $5, now()
       FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, ord)`,
    [ids, prefix, region, customer, PROFILE],
  );
  return ids;
}

const create = (payload: object, headers = adminAuth) =>
  t.app.inject({ method: 'POST', url: '/api/rollouts', headers, payload });
const act = (id: string, action: string, headers = adminAuth) =>
  t.app.inject({ method: 'POST', url: `/api/rollouts/${id}/${action}`, headers });
const base = () => ({ firmwareId: newFw, waves: [5, 50, 100], maxConcurrent: 3, failureThreshold: 0.2 });

beforeAll(async () => {
  t = await createTestApi('rollouts', { PASSWORD_SCRYPT_LOG_N: '10', PASSWORD_SCRYPT_P: '1' });
  oldFw = await insertFirmware('1.0.0');
  newFw = await insertFirmware('2.0.0');
  await insertDevices(20, 'N-CEB', 'North', 'CEB');
  await insertDevices(3, 'N-LECO', 'North', 'LECO');
  await insertDevices(4, 'S-LECO', 'South', 'LECO');
  await insertDevices(2, 'S-CEB', 'South', 'CEB');
  northOp = {
    authorization: `Bearer ${(await createKey(t.app, { name: 'n-op', role: 'operator', regions: ['North'] })).key}`,
  };
  northViewer = {
    authorization: `Bearer ${(await createKey(t.app, { name: 'n-view', role: 'viewer', regions: ['North'] })).key}`,
  };
});
afterAll(async () => {
  await t?.close();
});

describe('rollouts API', () => {
  let first: string;

  it('creates a rollout with its plan: devices per wave, running, audited', async () => {
    const res = await create({ ...base(), scope: { region: 'North', customer: 'CEB' } });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    first = body.id;
    expect(body).toMatchObject({
      status: 'running',
      currentWave: 1,
      waveCount: 3,
      devices: 20,
      firmware: { id: newFw, version: '2.0.0' },
      counts: { pending: 20 },
      successTimeoutSec: null,
    });
    expect(body.perWave.map((w: { devices: number; targetPercent: number }) => [w.devices, w.targetPercent])).toEqual([
      [1, 5],
      [9, 50],
      [10, 100],
    ]);
    expect(body.perDevice.total).toBe(20);
    expect(body.perDevice.items[0]).toMatchObject({ wave: 1, state: 'pending', region: 'North', reported: null });
    const audit = (
      await t.app.inject({ url: `/api/audit?entityType=rollout&entityId=${first}`, headers: adminAuth })
    ).json().items;
    expect(audit.map((e: { action: string }) => e.action)).toEqual(['rollout.create']);
    expect(audit[0].after).toMatchObject({ devices: 20, waves: [5, 50, 100] });
  });

  it('refuses bad input with what to fix, and nothing is stored', async () => {
    const before = (await t.app.pg.query('SELECT count(*)::int AS n FROM firmware_rollouts')).rows[0].n;
    const cases: [object, number, RegExp][] = [
      [{ ...base(), waves: [10, 5, 100], scope: { region: 'North' } }, 400, /must increase \(10 then 5\)/],
      [{ ...base(), waves: [1, 50], scope: { region: 'North' } }, 400, /last wave must be 100/],
      [{ ...base(), waves: [1, 101], scope: { region: 'North' } }, 400, /waves\.1/],
      [{ ...base(), scope: { region: 'Nowhere' } }, 400, /no device matches/],
      [{ ...base(), firmwareId: randomUUID(), scope: { region: 'North' } }, 404, /firmware .* not found/],
      [{ ...base(), scope: { devices: ['N-CEB-01', 'NOPE'] } }, 404, /"NOPE" not found/],
      [{ ...base(), scope: { profile: 'nope' } }, 404, /profile "nope" not found/],
      [
        { ...base(), scope: { region: 'North' }, rollbackOf: randomUUID() },
        400,
        /exactly one of "scope" or "rollbackOf"/,
      ],
      [{ ...base(), scope: { regoin: 'North' } }, 400, /unknown field "regoin"/],
      [{ ...base(), failureThreshold: 2, scope: {} }, 400, /failureThreshold/],
    ];
    for (const [payload, status, message] of cases) {
      const res = await create(payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(status);
      expect(res.json().message).toMatch(message);
    }
    expect((await t.app.pg.query('SELECT count(*)::int AS n FROM firmware_rollouts')).rows[0].n).toBe(before);
  });

  it('refuses a device already in an unfinished rollout, naming it', async () => {
    const res = await create({ ...base(), scope: { devices: ['N-CEB-03', 'N-LECO-01'] } });
    expect(res.statusCode).toBe(409);
    expect(res.json().message).toContain(first);
    expect(res.json().details).toEqual({ rolloutId: first, devices: 1 });
  });

  it("keeps an operator's rollout inside the operator's scope", async () => {
    const south = await create({ ...base(), scope: { region: 'South' } }, northOp);
    expect(south.statusCode).toBe(403);
    expect(south.json().message).toMatch(/"South" is outside your scope \(North\)/);
    const southDevice = await create({ ...base(), scope: { devices: ['S-LECO-01'] } }, northOp);
    expect(southDevice.statusCode).toBe(404);
    // A customer spanning both regions: narrowed to the operator's North.
    const leco = await create({ ...base(), scope: { customer: 'LECO' } }, northOp);
    expect(leco.statusCode).toBe(201);
    expect(leco.json()).toMatchObject({ devices: 3, scope: { customer: 'LECO', within: { regions: ['North'] } } });
    expect(leco.json().perDevice.items.every((d: { region: string }) => d.region === 'North')).toBe(true);
    const viewer = await create({ ...base(), scope: { customer: 'LECO' } }, northViewer);
    expect(viewer.statusCode).toBe(403);
  });

  it('shows a scoped caller only rollouts wholly inside their scope', async () => {
    const fleet = await create({ ...base(), waves: [100], scope: { customer: 'LECO', region: 'South' } });
    expect(fleet.statusCode).toBe(201);
    const id = fleet.json().id;
    const mine = (await t.app.inject({ url: '/api/rollouts', headers: northViewer })).json();
    expect(mine.items.map((r: { id: string }) => r.id)).not.toContain(id);
    expect(mine.items.map((r: { id: string }) => r.id)).toContain(first);
    expect((await t.app.inject({ url: `/api/rollouts/${id}`, headers: northViewer })).statusCode).toBe(404);
    expect((await act(id, 'pause', northOp)).statusCode).toBe(404);
    const all = (await t.app.inject({ url: '/api/rollouts?status=running', headers: adminAuth })).json();
    expect(all.total).toBe(3);
  });

  it('pauses, resumes and cancels idempotently; cancel leaves updated devices and keeps in-flight targets', async () => {
    expect((await act(first, 'pause', northViewer)).statusCode).toBe(403);
    const paused = await act(first, 'pause', northOp);
    expect(paused.statusCode).toBe(200);
    expect(paused.json()).toMatchObject({ status: 'paused', statusReason: expect.stringMatching(/^paused by /) });
    expect((await act(first, 'pause', northOp)).json().status).toBe('paused');
    expect((await act(first, 'resume', northOp)).json()).toMatchObject({ status: 'running', statusReason: null });
    expect((await act(first, 'resume')).json().status).toBe('running');

    // As if the controller had worked on the first waves: one updated, two in flight.
    const states = (
      await t.app.pg.query(
        'SELECT device_id FROM firmware_rollout_devices WHERE rollout_id = $1 ORDER BY wave, device_id LIMIT 3',
        [first],
      )
    ).rows.map((r) => r.device_id);
    await t.app.pg.query(
      `UPDATE firmware_rollout_devices SET state = (ARRAY['updated', 'assigned', 'downloading'])[array_position($2::uuid[], device_id)],
              assigned_at = now() WHERE rollout_id = $1 AND device_id = ANY($2::uuid[])`,
      [first, states],
    );
    await t.app.pg.query('UPDATE devices SET firmware_id = $2 WHERE id = ANY($1::uuid[])', [states, newFw]);
    const cancelled = await act(first, 'cancel', northOp);
    expect(cancelled.json()).toMatchObject({
      status: 'cancelled',
      finishedAt: expect.any(String),
      counts: { updated: 1, cancelled: 19, pending: 0, assigned: 0 },
    });
    expect((await act(first, 'cancel')).statusCode).toBe(200);
    expect((await act(first, 'resume')).statusCode).toBe(409);
    expect((await act(first, 'pause')).json().message).toMatch(/is cancelled: it cannot be paused/);
    const detail = (
      await t.app.inject({ url: `/api/rollouts/${first}?state=cancelled&limit=50`, headers: adminAuth })
    ).json();
    const inFlight = detail.perDevice.items.filter((d: { error: string | null }) => d.error !== null);
    expect(inFlight).toHaveLength(2);
    expect(inFlight[0].error).toMatch(/keeps the rollout's firmware as its target/);
    // Their target stays the rollout's firmware.
    const targets = await t.app.pg.query('SELECT DISTINCT firmware_id FROM devices WHERE id = ANY($1::uuid[])', [
      states,
    ]);
    expect(targets.rows).toEqual([{ firmware_id: newFw }]);
    const actions = (await t.app.inject({ url: `/api/audit?entityType=rollout&entityId=${first}`, headers: adminAuth }))
      .json()
      .items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['rollout.cancel', 'rollout.resume', 'rollout.pause', 'rollout.create']);

    // Rolling back: a rollout to the previous version over the devices the cancelled one assigned.
    const back = await create({
      firmwareId: oldFw,
      rollbackOf: first,
      waves: [100],
      maxConcurrent: 5,
      failureThreshold: 0.5,
    });
    expect(back.statusCode).toBe(201);
    expect(back.json()).toMatchObject({ devices: 3, firmware: { version: '1.0.0' }, scope: { rollbackOf: first } });
  });

  it('pages the devices of a rollout by wave and state', async () => {
    const page = (
      await t.app.inject({ url: `/api/rollouts/${first}?wave=3&limit=2&offset=1`, headers: adminAuth })
    ).json();
    expect(page.perDevice.total).toBe(10);
    expect(page.perDevice.items).toHaveLength(2);
    expect(page.perDevice.items.every((d: { wave: number }) => d.wave === 3)).toBe(true);
    expect((await t.app.inject({ url: '/api/rollouts/not-a-uuid', headers: adminAuth })).statusCode).toBe(400);
    const badState = await t.app.inject({ url: `/api/rollouts/${first}?state=done`, headers: adminAuth });
    expect(badState.statusCode).toBe(400);
    expect(badState.json().message).toMatch(/state/);
    expect((await t.app.inject({ url: `/api/rollouts/${randomUUID()}`, headers: adminAuth })).statusCode).toBe(404);
  });
});

describe('what a scoped caller learns of rollouts outside their scope', () => {
  it('a rollout whose devices were all deleted is not shown to scoped callers', async () => {
    const gone = await insertDevices(2, 'S-GONE', 'South', 'CEB');
    const res = await create({ ...base(), waves: [100], scope: { devices: ['S-GONE-01', 'S-GONE-02'] } });
    expect(res.statusCode).toBe(201);
    const id = res.json().id;
    await t.app.pg.query('DELETE FROM devices WHERE id = ANY($1::uuid[])', [gone]);
    const list = (await t.app.inject({ url: '/api/rollouts', headers: northViewer })).json();
    expect(list.items.map((r: { id: string }) => r.id)).not.toContain(id);
    expect((await t.app.inject({ url: `/api/rollouts/${id}`, headers: northViewer })).statusCode).toBe(404);
    expect((await act(id, 'cancel', northOp)).statusCode).toBe(404);
    // The admin still sees (and can stop) it.
    expect((await t.app.inject({ url: `/api/rollouts/${id}`, headers: adminAuth })).json().devices).toBe(0);
    expect((await act(id, 'cancel')).statusCode).toBe(200);
  });

  it("a 409 does not name a rollout the caller cannot see; firmware's activeRollouts counts only visible ones", async () => {
    const fw = await insertFirmware('3.0.0');
    await insertDevices(2, 'N-MIX', 'North', 'CEB');
    await insertDevices(2, 'S-MIX', 'South', 'CEB');
    const fleet = await create({
      ...base(),
      firmwareId: fw,
      waves: [100],
      scope: { devices: ['N-MIX-01', 'N-MIX-02', 'S-MIX-01', 'S-MIX-02'] },
    });
    expect(fleet.statusCode).toBe(201);
    const hiddenId = fleet.json().id;
    const refused = await create({ ...base(), firmwareId: fw, scope: { devices: ['N-MIX-01', 'N-MIX-02'] } }, northOp);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toBe(
      'some of these devices are in an unfinished rollout outside your scope: ask an administrator to cancel it or wait for it to finish',
    );
    expect(refused.body).not.toContain(hiddenId);
    expect(refused.json().details).toBeUndefined();
    // The admin is told which.
    const admin = await create({ ...base(), firmwareId: fw, scope: { devices: ['N-MIX-01'] } });
    expect(admin.json().details).toEqual({ rolloutId: hiddenId, devices: 1 });

    const fwAs = async (headers: { authorization: string }) =>
      (await t.app.inject({ url: `/api/firmware/${fw}`, headers })).json().assigned.activeRollouts;
    expect(await fwAs(adminAuth)).toBe(1);
    expect(await fwAs(northViewer)).toBe(0);
    // One inside their scope counts for them.
    await insertDevices(1, 'N-OWN', 'North', 'CEB');
    expect((await create({ ...base(), firmwareId: fw, scope: { devices: ['N-OWN-01'] } }, northOp)).statusCode).toBe(
      201,
    );
    expect(await fwAs(northViewer)).toBe(1);
    expect(await fwAs(adminAuth)).toBe(2);
  });
});

describe('per-wave failure rate', () => {
  it("is the controller's: failed among the devices finished or in flight, not the whole wave", async () => {
    await insertDevices(4, 'RATE', 'East', 'CEB');
    const res = await create({
      ...base(),
      waves: [100],
      scope: { devices: ['RATE-01', 'RATE-02', 'RATE-03', 'RATE-04'] },
    });
    const id = res.json().id;
    const ids = (await t.app.pg.query('SELECT device_id FROM firmware_rollout_devices WHERE rollout_id = $1', [id]))
      .rows;
    await t.app.pg.query(
      `UPDATE firmware_rollout_devices SET state = CASE device_id WHEN $2 THEN 'failed' ELSE 'updated' END
        WHERE rollout_id = $1 AND device_id IN ($2, $3)`,
      [id, ids[0].device_id, ids[1].device_id],
    );
    const detail = (await t.app.inject({ url: `/api/rollouts/${id}`, headers: adminAuth })).json();
    // 1 failed of 2 tried (2 still pending): 50 %, not 25 %.
    expect(detail.perWave[0]).toMatchObject({ devices: 4, failureRate: 0.5 });
  });
});
