/**
 * The rollout controller against the real database: ticks called with a fixed time, device
 * reports simulated by writing device_firmware and device_state as the ingest path does.
 * Waves proceed one after the other, never more than maxConcurrent in flight; a wave whose
 * failures pass the threshold pauses the rollout (nothing more assigned), resume goes on,
 * cancel stops; the success timeout fails silent devices; devices on the version already
 * are skipped; every automatic step is audited; and the controller runs on its own timer.
 */
import { randomUUID } from 'node:crypto';
import { createPool, type Pool } from '@spms/db';
import { planWaves } from '@spms/firmware';
import { createLogger } from '@spms/log';
import { createRedis } from '@spms/queue';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolloutMetrics, type RolloutDeps, startRolloutController, tickRollouts } from './controller.js';

const logger = createLogger({ name: 'rollouts-test', level: 'silent' });
const PROFILE = randomUUID();
const T0 = Date.parse('2026-12-03T10:00:00Z');
const S = 1000;
let db: TestDatabase;
let testRedis: TestRedis;
let pool: Pool;
let redis: Redis;
let deps: RolloutDeps;
let oldFw: string;
let newFw: string;

async function insertFirmware(version: string): Promise<string> {
  const { rows } = await pool.query(
    `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
     VALUES ('spms-esp32', $1, 3, 'SHA256', 'abc', 'abc', lo_from_bytea(0, '\\x010203')) RETURNING id`,
    [version],
  );
  return rows[0].id;
}

async function insertDevices(n: number, label: string): Promise<string[]> {
  const ids = Array.from({ length: n }, () => randomUUID());
  await pool.query(
    `INSERT INTO devices (id, name, region, profile_id, firmware_id, updated_at)
     SELECT id, $3 || '-' || ord, 'North', $2, $4, now() FROM unnest($1::uuid[]) WITH ORDINALITY AS x(id, ord)`,
    [ids, PROFILE, label, oldFw],
  );
  await pool.query(
    `INSERT INTO device_state (device_id, active, connection, last_activity_at)
     SELECT id, true, 'connected', to_timestamp($2 / 1000.0) FROM unnest($1::uuid[]) id`,
    [ids, T0 - 10 * S],
  );
  return ids;
}

/** A rollout as the API stores it (status running, wave 0). */
async function createRollout(
  devices: string[],
  waves: number[],
  opts: { maxConcurrent: number; failureThreshold: number; successTimeoutSec?: number },
): Promise<{ id: string; plan: string[][] }> {
  const id = randomUUID();
  const plan = planWaves(devices, waves, id);
  await pool.query(
    `INSERT INTO firmware_rollouts (id, firmware_id, scope, waves, max_concurrent, failure_threshold, success_timeout_sec)
     VALUES ($1, $2, '{}', $3, $4, $5, $6)`,
    [id, newFw, waves, opts.maxConcurrent, opts.failureThreshold, opts.successTimeoutSec ?? null],
  );
  await pool.query(
    `INSERT INTO firmware_rollout_devices (rollout_id, device_id, wave)
     SELECT $1, d, w FROM unnest($2::uuid[], $3::int[]) AS x(d, w)`,
    [id, plan.flat(), plan.flatMap((w, i) => w.map(() => i))],
  );
  return { id, plan };
}

/** What a device reports: its firmware state and version, and activity at the same time. */
async function report(deviceId: string, state: string, version: string, at: number, error: string | null = null) {
  await pool.query(
    `INSERT INTO device_firmware (device_id, current_title, current_version, state, error, state_at, updated_at)
     VALUES ($1, 'spms-esp32', $2, $3, $4, to_timestamp($5 / 1000.0), now())
     ON CONFLICT (device_id) DO UPDATE SET current_title = EXCLUDED.current_title,
       current_version = EXCLUDED.current_version, state = EXCLUDED.state, error = EXCLUDED.error,
       state_at = EXCLUDED.state_at, updated_at = now()`,
    [deviceId, version, state, error, at],
  );
  await pool.query(
    `UPDATE device_state SET active = true, last_activity_at = to_timestamp($2 / 1000.0) WHERE device_id = $1`,
    [deviceId, at],
  );
}

const states = async (rolloutId: string) => {
  const { rows } = await pool.query<{ device_id: string; state: string; wave: number; error: string | null }>(
    'SELECT device_id, state, wave, error FROM firmware_rollout_devices WHERE rollout_id = $1',
    [rolloutId],
  );
  return new Map(rows.map((r) => [r.device_id, r]));
};
const inState = async (rolloutId: string, state: string) =>
  [...(await states(rolloutId)).values()].filter((r) => r.state === state).map((r) => r.device_id);
const rolloutRow = async (id: string) =>
  (await pool.query('SELECT status, status_reason, current_wave FROM firmware_rollouts WHERE id = $1', [id])).rows[0];
const auditActions = async (id: string) =>
  (
    await pool.query<{ action: string; principal_kind: string }>(
      `SELECT action, principal_kind FROM audit_log WHERE entity_type = 'rollout' AND entity_id = $1 ORDER BY id`,
      [id],
    )
  ).rows;

beforeAll(async () => {
  db = await createTestDatabase('worker-rollouts');
  testRedis = createTestRedis('rollouts');
  pool = createPool(db.url, { max: 4 });
  redis = createRedis(testRedis.url);
  await pool.query(
    `INSERT INTO device_profiles (id, name, inactivity_timeout_sec, updated_at) VALUES ($1, 'rollouts', 60, now())`,
    [PROFILE],
  );
  oldFw = await insertFirmware('1.0.0');
  newFw = await insertFirmware('2.0.0');
  deps = { pool, redis, prefix: testRedis.prefix, logger, metrics: createRolloutMetrics() };
});
afterAll(async () => {
  redis?.disconnect();
  await pool?.end();
  await testRedis?.cleanup();
  await db?.drop();
});

describe('rollout controller', () => {
  it('rolls 20 devices out in three waves, maxConcurrent in flight at most, skipping one on the version', async () => {
    const devices = await insertDevices(20, 'waves');
    const onVersion = devices[7] as string;
    await report(onVersion, 'UPDATED', '2.0.0', T0 - 60 * S);
    const { id, plan } = await createRollout(devices, [10, 50, 100], { maxConcurrent: 3, failureThreshold: 0.2 });
    expect(plan.map((w) => w.length)).toEqual([2, 8, 10]);
    const waveOf = new Map(plan.flatMap((w, i) => w.map((d) => [d, i] as const)));
    let now = T0;
    const finishedWaves: number[] = [];
    for (let round = 0; round < 40; round++) {
      const before = await rolloutRow(id);
      if (before.status === 'completed') break;
      await tickRollouts(deps, now);
      const after = await states(id);
      const inFlight = [...after.values()].filter((r) => r.state === 'assigned' || r.state === 'downloading');
      expect(inFlight.length).toBeLessThanOrEqual(3);
      // Only the current wave's devices are ever in flight.
      for (const r of inFlight) expect(r.wave).toBe((await rolloutRow(id)).current_wave);
      if ((await rolloutRow(id)).current_wave > before.current_wave) finishedWaves.push(before.current_wave);
      // Each assigned device downloads, reboots into 2.0.0 and is heard from again.
      for (const r of inFlight) await report(r.device_id, 'UPDATED', '2.0.0', now + S);
      now += 5 * S;
    }
    expect(await rolloutRow(id)).toMatchObject({ status: 'completed', current_wave: 2 });
    expect(finishedWaves).toEqual([0, 1]);
    const final = await states(id);
    expect(final.get(onVersion)?.state).toBe('skipped');
    expect([...final.values()].filter((r) => r.state === 'updated')).toHaveLength(19);
    // The target reached the devices as ThingsBoard's shared attributes.
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n FROM device_attributes
        WHERE device_id = ANY($1::uuid[]) AND scope = 'shared' AND key = 'fw_version' AND value = '"2.0.0"'`,
      [devices.filter((d) => d !== onVersion)],
    );
    expect(rows[0].n).toBe(19);
    // The skipped device's target is the version it runs, not its old one.
    const skippedTarget = await pool.query('SELECT firmware_id FROM devices WHERE id = $1', [onVersion]);
    expect(skippedTarget.rows[0].firmware_id).toBe(newFw);
    const actions = await auditActions(id);
    expect(actions.every((a) => a.principal_kind === 'system')).toBe(true);
    expect(actions.map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'rollout.assign',
        'rollout.skip',
        'rollout.updated',
        'rollout.advance',
        'rollout.complete',
      ]),
    );
    expect(actions.at(-1)?.action).toBe('rollout.complete');
    expect(waveOf.size).toBe(20);
    expect((await deps.metrics?.devices.get())?.values.find((v) => v.labels.result === 'updated')?.value).toBe(19);
  });

  it('pauses a wave whose failures pass the threshold, assigns nothing more, and goes on when resumed', async () => {
    const devices = await insertDevices(8, 'fail');
    const { id, plan } = await createRollout(devices, [25, 100], { maxConcurrent: 5, failureThreshold: 0.2 });
    const [a, b] = plan[0] as [string, string];
    await tickRollouts(deps, T0);
    expect((await inState(id, 'assigned')).sort()).toEqual([a, b].sort());
    await report(a, 'FAILED', '1.0.0', T0 + S, 'checksum mismatch');
    await report(b, 'DOWNLOADING', '1.0.0', T0 + S);
    await tickRollouts(deps, T0 + 5 * S);
    expect(await rolloutRow(id)).toMatchObject({
      status: 'paused',
      status_reason: 'wave 1: 1 of 2 devices failed (50 %), above the failure threshold of 20 %',
    });
    expect((await states(id)).get(a)).toMatchObject({ state: 'failed', error: 'checksum mismatch' });
    expect((await states(id)).get(b)?.state).toBe('downloading');
    // Paused: the device in flight is still followed, nothing new is assigned.
    await report(b, 'UPDATED', '2.0.0', T0 + 6 * S);
    await tickRollouts(deps, T0 + 10 * S);
    expect((await states(id)).get(b)?.state).toBe('updated');
    expect(await inState(id, 'assigned')).toEqual([]);
    expect(await inState(id, 'pending')).toHaveLength(6);
    expect(await rolloutRow(id)).toMatchObject({ status: 'paused', current_wave: 0 });

    // The operator resumes (as the API does): the wave is done, the next one starts.
    await pool.query(`UPDATE firmware_rollouts SET status = 'running', status_reason = NULL WHERE id = $1`, [id]);
    await tickRollouts(deps, T0 + 15 * S);
    expect((await rolloutRow(id)).current_wave).toBe(1);
    await tickRollouts(deps, T0 + 20 * S);
    expect(await inState(id, 'assigned')).toHaveLength(5);
    const actions = (await auditActions(id)).map((x) => x.action);
    expect(actions).toContain('rollout.pause');
    expect(actions).toContain('rollout.failed');
  });

  it('fails devices not updated and back within three inactivity timeouts, or the rollout timeout', async () => {
    const devices = await insertDevices(2, 'silent');
    const { id } = await createRollout(devices, [100], { maxConcurrent: 5, failureThreshold: 1 });
    await tickRollouts(deps, T0);
    expect(await inState(id, 'assigned')).toHaveLength(2);
    // Updated but never heard from afterwards: not back online.
    const [quiet, gone] = devices as [string, string];
    await report(gone, 'UPDATED', '2.0.0', T0 + 10 * S);
    await pool.query('UPDATE device_state SET active = false WHERE device_id = $1', [gone]);
    await tickRollouts(deps, T0 + 180 * S);
    expect(await inState(id, 'failed')).toEqual([]);
    await tickRollouts(deps, T0 + 181 * S);
    const s = await states(id);
    expect(s.get(quiet)).toMatchObject({
      state: 'failed',
      error: 'not updated and back online within 180 s of the assignment',
    });
    expect(s.get(gone)?.state).toBe('failed');
    expect((await rolloutRow(id)).status).toBe('completed');

    const short = await createRollout(await insertDevices(1, 'short'), [100], {
      maxConcurrent: 1,
      failureThreshold: 1,
      successTimeoutSec: 30,
    });
    await tickRollouts(deps, T0);
    await tickRollouts(deps, T0 + 31 * S);
    expect(await inState(short.id, 'failed')).toHaveLength(1);
  });

  it('lets go of a device whose firmware an operator changed by hand while it was in flight', async () => {
    const devices = await insertDevices(2, 'byhand');
    const { id } = await createRollout(devices, [100], { maxConcurrent: 2, failureThreshold: 0 });
    await tickRollouts(deps, T0);
    await pool.query('UPDATE devices SET firmware_id = $2 WHERE id = $1', [devices[0], oldFw]);
    await tickRollouts(deps, T0 + 5 * S);
    expect((await states(id)).get(devices[0] as string)).toMatchObject({
      state: 'cancelled',
      error: 'its target was changed outside the rollout',
    });
    expect(await rolloutRow(id)).toMatchObject({ status: 'running' });
    expect((await auditActions(id)).map((a) => a.action)).toContain('rollout.retargeted');
  });

  it('assigns nothing for a cancelled rollout', async () => {
    const devices = await insertDevices(3, 'cancel');
    const { id } = await createRollout(devices, [100], { maxConcurrent: 1, failureThreshold: 1 });
    await tickRollouts(deps, T0);
    await pool.query(`UPDATE firmware_rollouts SET status = 'cancelled' WHERE id = $1;`, [id]);
    await tickRollouts(deps, T0 + 60 * S);
    expect(await inState(id, 'assigned')).toHaveLength(1);
    expect(await inState(id, 'pending')).toHaveLength(2);
  });

  it('runs on its own timer with the default tick, one driver per installation', async () => {
    const devices = await insertDevices(1, 'timer');
    const { id } = await createRollout(devices, [100], { maxConcurrent: 1, failureThreshold: 1 });
    const first = startRolloutController({ ...deps, intervalMs: 5000 });
    const second = startRolloutController({ ...deps, intervalMs: 5000 });
    try {
      await expect.poll(async () => (await states(id)).get(devices[0] as string)?.state).toBe('assigned');
      expect(await redis.get(`${testRedis.prefix}:rollouts:leader`)).toBeTruthy();
    } finally {
      await first.close();
      await second.close();
    }
    expect(await redis.get(`${testRedis.prefix}:rollouts:leader`)).toBeNull();
  });
});
