/**
 * The rollout controller's reads and writes, all in the caller's transaction: the rollout row
 * (locked, so an operator's pause or cancel through the API waits for the tick or the tick
 * for it), the devices one tick needs (the current wave, and whatever is in flight) with
 * what they reported and their activity, and the tick's outcome with its audit entries.
 */
import type { PoolClient } from '@spms/db';
import {
  FINISHED,
  type FirmwareState,
  type FirmwareTargetChange,
  type RolloutDeviceState,
  type RolloutDeviceView,
  type RolloutStatus,
  type RolloutView,
  setDeviceFirmware,
  type TickDecision,
} from '@spms/firmware';
import { msOf, tsParam } from '../persist/sql.js';

/** Who the audit log names for the controller's own steps. */
export const SYSTEM_ACTOR = { kind: 'system', id: 'rollout-controller' } as const;

export interface LoadedRollout {
  id: string;
  firmwareId: string;
  view: RolloutView;
}

interface RolloutRow {
  id: string;
  firmware_id: string;
  status: RolloutStatus;
  current_wave: number;
  wave_count: number | null;
  max_concurrent: number;
  failure_threshold: number;
  success_timeout_sec: number | null;
  title: string;
  version: string;
}

/** The rollout, locked for this transaction; null when gone or no longer running or paused. */
export async function lockRollout(tx: PoolClient, id: string): Promise<LoadedRollout | null> {
  const { rows } = await tx.query<RolloutRow>(
    `SELECT r.id, r.firmware_id, r.status, r.current_wave, r.max_concurrent, r.failure_threshold,
            r.success_timeout_sec, f.title, f.version,
            (SELECT max(wave) + 1 FROM firmware_rollout_devices x WHERE x.rollout_id = r.id) AS wave_count
       FROM firmware_rollouts r JOIN firmware f ON f.id = r.firmware_id
      WHERE r.id = $1 AND r.status IN ('running', 'paused')
        FOR UPDATE OF r`,
    [id],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    id: r.id,
    firmwareId: r.firmware_id,
    view: {
      status: r.status,
      currentWave: r.current_wave,
      waveCount: r.wave_count ?? 0,
      maxConcurrent: r.max_concurrent,
      failureThreshold: r.failure_threshold,
      successTimeoutSec: r.success_timeout_sec,
      firmware: { title: r.title, version: r.version },
    },
  };
}

interface DeviceRow {
  device_id: string;
  wave: number;
  state: RolloutDeviceState;
  assigned_at: number | null;
  current_title: string | null;
  current_version: string | null;
  fw_state: FirmwareState | null;
  state_at: number | null;
  error: string | null;
  has_report: boolean;
  active: boolean | null;
  last_activity_at: number | null;
  inactivity_timeout_sec: number;
  retargeted: boolean;
}

/** The devices of the current wave and every device in flight, in a stable order. */
export async function loadDevices(tx: PoolClient, r: LoadedRollout): Promise<RolloutDeviceView[]> {
  const { rows } = await tx.query<DeviceRow>(
    `SELECT rd.device_id, rd.wave, rd.state, ${msOf('rd.assigned_at')} AS assigned_at,
            f.current_title, f.current_version, f.state AS fw_state, ${msOf('f.state_at')} AS state_at, f.error,
            f.device_id IS NOT NULL AS has_report, s.active, ${msOf('s.last_activity_at')} AS last_activity_at,
            COALESCE(d.inactivity_timeout_sec, p.inactivity_timeout_sec) AS inactivity_timeout_sec,
            d.firmware_id IS DISTINCT FROM $3::uuid AS retargeted
       FROM firmware_rollout_devices rd
       JOIN devices d ON d.id = rd.device_id
       JOIN device_profiles p ON p.id = d.profile_id
       LEFT JOIN device_firmware f ON f.device_id = rd.device_id
       LEFT JOIN device_state s ON s.device_id = rd.device_id
      WHERE rd.rollout_id = $1 AND (rd.wave = $2 OR rd.state IN ('assigned', 'downloading'))
      ORDER BY rd.wave, rd.device_id`,
    [r.id, r.view.currentWave, r.firmwareId],
  );
  return rows.map((x) => ({
    deviceId: x.device_id,
    wave: x.wave,
    state: x.state,
    assignedAt: x.assigned_at,
    reported: x.has_report
      ? {
          title: x.current_title,
          version: x.current_version,
          state: x.fw_state,
          stateAt: x.state_at,
          error: x.error,
        }
      : null,
    active: x.active ?? false,
    lastActivityAt: x.last_activity_at,
    inactivityTimeoutSec: x.inactivity_timeout_sec,
    retargeted: x.retargeted,
  }));
}

async function audit(tx: PoolClient, rolloutId: string, action: string, after: unknown, before?: unknown) {
  await tx.query(
    `INSERT INTO audit_log (principal_kind, principal_id, action, entity_type, entity_id, before, after)
     VALUES ($1, $2, $3, 'rollout', $4, $5::jsonb, $6::jsonb)`,
    [
      SYSTEM_ACTOR.kind,
      SYSTEM_ACTOR.id,
      action,
      rolloutId,
      before === undefined ? null : JSON.stringify(before),
      JSON.stringify(after),
    ],
  );
}

/**
 * Writes one tick's decision at time `now` (epoch ms): device states and times, the new
 * targets of the devices assigned (their fw_* shared attributes, through setDeviceFirmware),
 * the rollout's status or wave, and an audit entry per kind of automatic step. Returns the
 * target changes to push once committed.
 */
export async function applyDecision(
  tx: PoolClient,
  r: LoadedRollout,
  d: TickDecision,
  now: number,
): Promise<FirmwareTargetChange[]> {
  const at = tsParam('$3::float8');
  const move = async (ids: string[], from: RolloutDeviceState[], to: RolloutDeviceState) => {
    if (ids.length === 0) return;
    await tx.query(
      `UPDATE firmware_rollout_devices SET state = $4::text, error = NULL,
              assigned_at = CASE WHEN $4 = 'assigned' THEN ${at} ELSE assigned_at END,
              finished_at = CASE WHEN $4 = ANY($6::text[]) THEN ${at} ELSE finished_at END
        WHERE rollout_id = $1 AND device_id = ANY($2::uuid[]) AND state = ANY($5::text[])`,
      [r.id, ids, now, to, from, FINISHED],
    );
  };
  await move(d.downloading, ['assigned'], 'downloading');
  await move(d.updated, ['assigned', 'downloading'], 'updated');
  await move(d.skipped, ['pending'], 'skipped');
  await move(d.assign, ['pending'], 'assigned');
  const finish = async (to: 'failed' | 'cancelled', list: { deviceId: string; error: string }[]) => {
    if (list.length === 0) return;
    await tx.query(
      `UPDATE firmware_rollout_devices rd SET state = $5, error = x.error, finished_at = ${at}
         FROM unnest($2::uuid[], $4::text[]) AS x(device_id, error)
        WHERE rd.rollout_id = $1 AND rd.device_id = x.device_id AND rd.state IN ('assigned', 'downloading')`,
      [r.id, list.map((f) => f.deviceId), now, list.map((f) => f.error), to],
    );
  };
  await finish('failed', d.failed);
  await finish('cancelled', d.cancelled);
  // Skipped devices get the target too (without it, a device already on the version would be
  // told to go back to its old target); they need no download, so they take no slot.
  const changes = await setDeviceFirmware(tx, [...d.assign, ...d.skipped], r.firmwareId);

  const wave = r.view.currentWave + 1;
  if (d.assign.length > 0) await audit(tx, r.id, 'rollout.assign', { wave, devices: d.assign });
  if (d.skipped.length > 0) await audit(tx, r.id, 'rollout.skip', { wave, devices: d.skipped });
  if (d.updated.length > 0) await audit(tx, r.id, 'rollout.updated', { devices: d.updated });
  if (d.failed.length > 0) await audit(tx, r.id, 'rollout.failed', { devices: d.failed });
  if (d.cancelled.length > 0) await audit(tx, r.id, 'rollout.retargeted', { devices: d.cancelled });
  if (d.pause) {
    await tx.query(
      `UPDATE firmware_rollouts SET status = 'paused', status_reason = $2, updated_at = ${tsParam('$3::float8')}
        WHERE id = $1`,
      [r.id, d.pause, now],
    );
    await audit(tx, r.id, 'rollout.pause', { status: 'paused', reason: d.pause }, { status: 'running' });
  } else if (d.advanceTo !== null) {
    await tx.query(
      `UPDATE firmware_rollouts SET current_wave = $2, updated_at = ${tsParam('$3::float8')} WHERE id = $1`,
      [r.id, d.advanceTo, now],
    );
    await audit(tx, r.id, 'rollout.advance', { wave: d.advanceTo + 1 }, { wave });
  } else if (d.complete) {
    await tx.query(
      `UPDATE firmware_rollouts SET status = 'completed', status_reason = NULL,
              updated_at = ${tsParam('$2::float8')}, finished_at = ${tsParam('$2::float8')}
        WHERE id = $1`,
      [r.id, now],
    );
    await audit(tx, r.id, 'rollout.complete', { status: 'completed' }, { status: 'running' });
  }
  return changes;
}

/** Rollouts the controller follows: running ones, and paused ones (their devices in flight). */
export async function activeRolloutIds(tx: { query: PoolClient['query'] }): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM firmware_rollouts WHERE status IN ('running', 'paused') ORDER BY created_at, id`,
  );
  return rows.map((r) => r.id);
}

/** Rollouts by status, for the gauge. */
export async function rolloutCounts(db: { query: PoolClient['query'] }): Promise<Map<RolloutStatus, number>> {
  const { rows } = await db.query<{ status: RolloutStatus; n: number }>(
    'SELECT status, count(*)::int AS n FROM firmware_rollouts GROUP BY status',
  );
  return new Map(rows.map((r) => [r.status, r.n]));
}
