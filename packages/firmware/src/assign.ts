/**
 * Assigning firmware to devices and profiles. A device's target is its own firmware_id,
 * else its profile's; the target reaches the device as the five shared attributes of
 * ThingsBoard's OTA protocol (attributes.ts), deleted when there is no target.
 *
 * The database half (setDeviceFirmware, setProfileFirmware, refreshFirmwareTargets) runs in
 * the caller's transaction and is set-based: a profile may hold 10,000 devices, recomputed
 * in one statement. The push (pushFirmwareAttributes) comes after the commit and only
 * reaches live sessions; a device that is offline reads its shared attributes when it
 * connects, so nothing is lost when it does not reach the device.
 *
 * Concurrency: a device's target depends on its row and its profile's. Every recomputation
 * takes its profiles' rows FOR SHARE first, and a profile change holds its row (UPDATE)
 * until commit, so a device change and a profile change that overlap are ordered: the later
 * one sees the earlier one's commit and recomputes from it.
 */
import type { Queryable } from '@spms/db';
import { type AttributesUpdateCommand, attributePushExpiry, sendDeviceCommand, sessionOwnersKey } from '@spms/queue';
import { FIRMWARE_ATTRIBUTE_KEYS, type FirmwareMeta, firmwareAttributes } from './attributes.js';
import type { ChecksumAlgorithm } from './checksum.js';

/** One device whose target was recomputed, with what it should now run (null: none). */
export interface FirmwareTargetChange {
  deviceId: string;
  target: FirmwareMeta | null;
}

interface TargetRow {
  device_id: string;
  fw_id: string | null;
  title: string | null;
  version: string | null;
  size: string | null;
  checksum: string | null;
  checksum_algorithm: string | null;
}

const toChange = (r: TargetRow): FirmwareTargetChange => ({
  deviceId: r.device_id,
  target:
    r.fw_id === null
      ? null
      : {
          id: r.fw_id,
          title: r.title as string,
          version: r.version as string,
          size: Number(r.size),
          checksum: r.checksum as string,
          checksumAlgorithm: r.checksum_algorithm as ChecksumAlgorithm,
        },
});

/**
 * Recomputes the target of the devices `where` selects (a condition on `d`, devices, with
 * its parameters from $2 on) and writes it: the five fw_* shared attributes upserted (or
 * deleted when there is no target), device_firmware.pushed_firmware_id/pushed_at set (row
 * created when missing). One statement whatever the number of devices.
 */
async function recompute(tx: Queryable, where: string, params: unknown[]): Promise<FirmwareTargetChange[]> {
  const { rows } = await tx.query<TargetRow>(
    `WITH t AS (
       SELECT d.id AS device_id, f.id AS fw_id, f.title, f.version, f.size, f.checksum, f.checksum_algorithm
         FROM devices d JOIN device_profiles p ON p.id = d.profile_id
         LEFT JOIN firmware f ON f.id = COALESCE(d.firmware_id, p.firmware_id)
        WHERE ${where}
     ), cleared AS (
       DELETE FROM device_attributes a USING t
        WHERE t.fw_id IS NULL AND a.device_id = t.device_id AND a.scope = 'shared' AND a.key = ANY($1::text[])
     ), attrs AS (
       INSERT INTO device_attributes (device_id, scope, key, value, updated_at)
       SELECT t.device_id, 'shared', kv.key, kv.value, now()
         FROM t CROSS JOIN LATERAL (VALUES
           ('fw_title', to_jsonb(t.title)),
           ('fw_version', to_jsonb(t.version)),
           ('fw_size', to_jsonb(t.size)),
           ('fw_checksum', to_jsonb(t.checksum)),
           ('fw_checksum_algorithm', to_jsonb(t.checksum_algorithm))) AS kv(key, value)
        WHERE t.fw_id IS NOT NULL
       ON CONFLICT (device_id, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
         WHERE device_attributes.value IS DISTINCT FROM EXCLUDED.value
     ), pushed AS (
       INSERT INTO device_firmware (device_id, pushed_firmware_id, pushed_at, updated_at)
       SELECT t.device_id, t.fw_id, now(), now() FROM t
       ON CONFLICT (device_id) DO UPDATE
         SET pushed_firmware_id = EXCLUDED.pushed_firmware_id, pushed_at = EXCLUDED.pushed_at,
             updated_at = EXCLUDED.updated_at
     )
     SELECT device_id, fw_id, title, version, size::text, checksum, checksum_algorithm FROM t ORDER BY device_id`,
    [FIRMWARE_ATTRIBUTE_KEYS, ...params],
  );
  return rows.map(toChange);
}

/** Locks (FOR SHARE) the profiles of these devices, in id order so lockers never deadlock. */
async function lockProfilesOf(tx: Queryable, deviceIds: string[]): Promise<void> {
  await tx.query(
    `SELECT p.id FROM device_profiles p
      WHERE p.id IN (SELECT profile_id FROM devices WHERE id = ANY($1::uuid[]))
      ORDER BY p.id FOR SHARE OF p`,
    [deviceIds],
  );
}

/**
 * Recomputes and writes the targets of these devices (after a change to what they depend
 * on, e.g. a device moved to another profile). Unknown ids are ignored.
 */
export async function refreshFirmwareTargets(tx: Queryable, deviceIds: string[]): Promise<FirmwareTargetChange[]> {
  if (deviceIds.length === 0) return [];
  await lockProfilesOf(tx, deviceIds);
  return recompute(tx, 'd.id = ANY($2::uuid[])', [deviceIds]);
}

/**
 * Assigns `firmwareId` (null: none, the profile's firmware applies) to these devices and
 * writes their new targets. The caller checks the firmware exists (the foreign key refuses
 * an unknown id) and that the caller may change these devices. Returns every device given
 * that exists, with its new target.
 */
export async function setDeviceFirmware(
  tx: Queryable,
  deviceIds: string[],
  firmwareId: string | null,
): Promise<FirmwareTargetChange[]> {
  if (deviceIds.length === 0) return [];
  await lockProfilesOf(tx, deviceIds);
  await tx.query(
    `UPDATE devices SET firmware_id = $2, updated_at = now()
      WHERE id = ANY($1::uuid[]) AND firmware_id IS DISTINCT FROM $2`,
    [deviceIds, firmwareId],
  );
  return recompute(tx, 'd.id = ANY($2::uuid[])', [deviceIds]);
}

/**
 * Assigns `firmwareId` (null: none) to a profile and writes the targets of its devices that
 * follow the profile (those without their own firmware). Returns those devices with their
 * new target; null when the profile does not exist.
 */
export async function setProfileFirmware(
  tx: Queryable,
  profileId: string,
  firmwareId: string | null,
): Promise<FirmwareTargetChange[] | null> {
  // RETURNING rather than rowCount: callers may run this through an adapter that only returns rows.
  const res = await tx.query(
    'UPDATE device_profiles SET firmware_id = $2, updated_at = now() WHERE id = $1::uuid RETURNING id',
    [profileId, firmwareId],
  );
  if (res.rows.length === 0) return null;
  return recompute(tx, 'd.profile_id = $2::uuid AND d.firmware_id IS NULL', [profileId]);
}

/** The shared-attribute update a device gets for its new target (ThingsBoard's push form). */
export function firmwareAttributesPayload(target: FirmwareMeta | null): AttributesUpdateCommand['payload'] {
  return target ? firmwareAttributes(target) : { deleted: [...FIRMWARE_ATTRIBUTE_KEYS] };
}

export interface PushSummary {
  /** Pushes handed to a live session. */
  live: number;
  /** Devices without a live session (they read the attributes when they connect). */
  offline: number;
  /** Pushes that failed (Redis); those devices also read the attributes when they connect. */
  failed: number;
}

/** Pushes in flight at once: a profile of 10,000 devices is not sent one round trip at a time. */
const PUSH_CONCURRENCY = 64;
/** Devices whose session owner is read in one HMGET. */
const OWNER_BATCH = 1000;

/**
 * After the commit: pushes each device's new fw_* attributes to its live session (MQTT or
 * the HTTP device API's long-poll, whichever process holds it). Never throws: the values
 * are stored already, a device that misses the push reads them when it (re)connects.
 */
export async function pushFirmwareAttributes(
  redis: Parameters<typeof sendDeviceCommand>[0],
  prefix: string,
  changes: FirmwareTargetChange[],
  opts: { wakeup: boolean },
): Promise<PushSummary> {
  const summary: PushSummary = { live: 0, offline: 0, failed: 0 };
  const expiresAt = attributePushExpiry();
  // Most of a large profile is usually offline: one HMGET per thousand devices finds those
  // with a session, and only they get a send. A device that connects after this look-up
  // reads its attributes on connect, after the commit, so it has the new values either way.
  const online: FirmwareTargetChange[] = [];
  for (let i = 0; i < changes.length; i += OWNER_BATCH) {
    const batch = changes.slice(i, i + OWNER_BATCH);
    try {
      const owners = await redis.hmget(sessionOwnersKey(prefix), ...batch.map((c) => c.deviceId));
      batch.forEach((c, j) => {
        if (owners[j]) online.push(c);
        else summary.offline++;
      });
    } catch {
      summary.failed += batch.length;
    }
  }
  let next = 0;
  const worker = async () => {
    while (next < online.length) {
      const change = online[next++] as FirmwareTargetChange;
      const cmd: AttributesUpdateCommand = {
        kind: 'attributes',
        deviceId: change.deviceId,
        payload: firmwareAttributesPayload(change.target),
        expiresAt,
      };
      try {
        const { result } = await sendDeviceCommand(redis, prefix, cmd, { onlyIfLive: true, wakeup: opts.wakeup });
        if (result === 'live') summary.live++;
        else summary.offline++;
      } catch {
        summary.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PUSH_CONCURRENCY, online.length) }, worker));
  return summary;
}
