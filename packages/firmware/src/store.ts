/**
 * Firmware images in PostgreSQL large objects: read in chunks with lo_get (any process that
 * reaches the database serves any image, none holds it whole), and a device's target
 * firmware (its own firmware_id, else its profile's).
 */
import type { Queryable } from '@spms/db';
import type { FirmwareMeta } from './attributes.js';
import { type FirmwareMetaRow, toFirmwareMeta } from './upload.js';

export async function getFirmware(db: Queryable, id: string): Promise<FirmwareMeta | null> {
  const { rows } = await db.query<FirmwareMetaRow>(
    'SELECT id, title, version, size, checksum, checksum_algorithm FROM firmware WHERE id = $1',
    [id],
  );
  return rows[0] ? toFirmwareMeta(rows[0]) : null;
}

/** The firmware a device should run: its own assignment, else its profile's; null for none. */
export async function targetFirmware(db: Queryable, deviceId: string): Promise<FirmwareMeta | null> {
  const { rows } = await db.query<FirmwareMetaRow>(
    `SELECT f.id, f.title, f.version, f.size, f.checksum, f.checksum_algorithm
       FROM devices d JOIN device_profiles p ON p.id = d.profile_id
       JOIN firmware f ON f.id = COALESCE(d.firmware_id, p.firmware_id)
      WHERE d.id = $1`,
    [deviceId],
  );
  return rows[0] ? toFirmwareMeta(rows[0]) : null;
}

/**
 * Bytes [chunk × chunkSize, +chunkSize) of an image (shorter at the end, empty past it);
 * null when the firmware does not exist. Chunk and size must be validated by the caller.
 */
export async function readChunk(
  db: Queryable,
  firmwareId: string,
  chunk: number,
  chunkSize: number,
): Promise<Buffer | null> {
  const { rows } = await db.query<{ data: Buffer | null; size: string }>(
    `SELECT CASE WHEN $2::bigint >= size THEN ''::bytea ELSE lo_get(data_oid, $2::bigint, $3::int) END AS data, size
       FROM firmware WHERE id = $1`,
    [firmwareId, chunk * chunkSize, chunkSize],
  );
  if (!rows[0]) return null;
  return rows[0].data ?? Buffer.alloc(0);
}
