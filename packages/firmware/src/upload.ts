/**
 * Storing and deleting firmware images. An upload streams into a new large object inside
 * one transaction, checksummed on the way (the uploader's algorithm, and sha256 always):
 * memory holds one write block, never the image. Anything wrong — checksum mismatch, over
 * the size limit, empty, a (title, version) that exists — throws before COMMIT, and the
 * rollback takes the large object with it (lo_create is transactional), so nothing is
 * stored half-way and no orphan object is left.
 */
import { type Pool, type PoolClient, withTransaction } from '@spms/db';
import type { FirmwareMeta } from './attributes.js';
import { type ChecksumAlgorithm, crc32Matches, createChecksum, normaliseChecksum } from './checksum.js';

export type FirmwareErrorCode = 'INVALID' | 'CHECKSUM_MISMATCH' | 'TOO_LARGE' | 'DUPLICATE' | 'NOT_FOUND' | 'IN_USE';

/** A refusal with a message that says what to fix; `code` maps to the HTTP status. */
export class FirmwareError extends Error {
  override name = 'FirmwareError';
  constructor(
    readonly code: FirmwareErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** A firmware row as the API shows it. */
export interface FirmwareRecord {
  id: string;
  title: string;
  version: string;
  size: number;
  checksum: string;
  checksumAlgorithm: ChecksumAlgorithm;
  sha256: string;
  contentType: string | null;
  description: string | null;
  createdBy: string | null;
  createdAt: Date;
}

export interface FirmwareRow {
  id: string;
  title: string;
  version: string;
  size: string;
  checksum: string;
  checksum_algorithm: string;
  sha256: string;
  content_type: string | null;
  description: string | null;
  created_by: string | null;
  created_at: Date;
}

export const FIRMWARE_COLUMNS =
  'id, title, version, size::text AS size, checksum, checksum_algorithm, sha256, content_type, description, created_by, created_at';

/** The columns a device's target firmware needs (store.ts reads only these). */
export type FirmwareMetaRow = Pick<
  FirmwareRow,
  'id' | 'title' | 'version' | 'size' | 'checksum' | 'checksum_algorithm'
>;

export const toFirmwareMeta = (r: FirmwareMetaRow): FirmwareMeta => ({
  id: r.id,
  title: r.title,
  version: r.version,
  size: Number(r.size),
  checksum: r.checksum,
  checksumAlgorithm: r.checksum_algorithm as ChecksumAlgorithm,
});

export const toFirmwareRecord = (r: FirmwareRow): FirmwareRecord => ({
  ...toFirmwareMeta(r),
  sha256: r.sha256,
  contentType: r.content_type,
  description: r.description,
  createdBy: r.created_by,
  createdAt: r.created_at,
});

/** Hex digits of each algorithm's value (CRC32 may be given with fewer: leading zeros). */
const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { SHA256: 64, SHA384: 96, SHA512: 128, MD5: 32, CRC32: 8 };

/** Why a checksum as given cannot be one of `algorithm` (null: plausible). Checked before any byte is read. */
export function checksumFormatProblem(algorithm: ChecksumAlgorithm, checksum: string): string | null {
  const hex = normaliseChecksum(checksum);
  const want = HEX_LENGTH[algorithm];
  if (!/^[0-9a-f]+$/.test(hex)) return `checksum must be hexadecimal (${algorithm}: ${want} hex digits)`;
  if (algorithm === 'CRC32' ? hex.length > want : hex.length !== want)
    return `a ${algorithm} checksum has ${want} hex digits; got ${hex.length}`;
  return null;
}

export interface UploadRequest {
  title: string;
  version: string;
  checksumAlgorithm: ChecksumAlgorithm;
  /** As the uploader computed it (hex; CRC32 in either byte order). */
  checksum: string;
  description?: string | null;
  contentType?: string | null;
  /** Who uploaded it (principal id), kept on the row. */
  createdBy?: string | null;
  /** Largest image accepted (TOO_LARGE beyond, checked while streaming). */
  maxBytes: number;
  /** Runs in the upload's transaction once the row exists (the audit entry): a throw rolls everything back. */
  inTransaction?: (tx: PoolClient, stored: FirmwareRecord) => Promise<void>;
}

/** Bytes per lo_put: the only part of the image in memory at a time. */
const WRITE_BLOCK = 256 * 1024;

/**
 * Streams `image` into a new firmware row and large object; returns the row. Throws
 * FirmwareError (nothing stored) for a duplicate, a mismatch, an empty or too large image.
 */
export async function uploadFirmware(
  pool: Pool,
  image: AsyncIterable<Uint8Array>,
  req: UploadRequest,
): Promise<FirmwareRecord> {
  const problem = checksumFormatProblem(req.checksumAlgorithm, req.checksum);
  if (problem) throw new FirmwareError('INVALID', problem);
  const duplicate = () =>
    new FirmwareError('DUPLICATE', `firmware "${req.title}" version "${req.version}" exists already`);
  try {
    return await withTransaction(pool, async (tx) => {
      // Refused before the body is read; the unique index still decides a race.
      const exists = await tx.query('SELECT 1 FROM firmware WHERE title = $1 AND version = $2', [
        req.title,
        req.version,
      ]);
      if (exists.rows.length > 0) throw duplicate();
      const oid: number = (await tx.query<{ oid: number }>('SELECT lo_create(0) AS oid')).rows[0]?.oid as number;
      const checksum = createChecksum(req.checksumAlgorithm);
      const sha256 = createChecksum('SHA256');
      let size = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const block = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await tx.query('SELECT lo_put($1::oid, $2::bigint, $3::bytea)', [oid, size - block.length, block]);
      };
      for await (const chunk of image) {
        const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += buf.length;
        if (size > req.maxBytes)
          throw new FirmwareError(
            'TOO_LARGE',
            `image larger than the limit of ${req.maxBytes} bytes (FIRMWARE_MAX_BYTES)`,
          );
        checksum.update(buf);
        sha256.update(buf);
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes >= WRITE_BLOCK) await flush();
      }
      await flush();
      if (size === 0) throw new FirmwareError('INVALID', 'the image is empty: send its bytes as the request body');
      const computed = checksum.digest();
      const matches =
        req.checksumAlgorithm === 'CRC32'
          ? crc32Matches(req.checksum, computed)
          : normaliseChecksum(req.checksum) === computed;
      if (!matches)
        throw new FirmwareError(
          'CHECKSUM_MISMATCH',
          `${req.checksumAlgorithm} checksum mismatch: expected ${normaliseChecksum(req.checksum)}, computed ${computed} over ${size} bytes`,
          { expected: normaliseChecksum(req.checksum), computed, size },
        );
      const { rows } = await tx.query<FirmwareRow>(
        `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, content_type, description, data_oid, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${FIRMWARE_COLUMNS}`,
        [
          req.title,
          req.version,
          size,
          req.checksumAlgorithm,
          computed,
          sha256.digest(),
          req.contentType ?? null,
          req.description ?? null,
          oid,
          req.createdBy ?? null,
        ],
      );
      const stored = toFirmwareRecord(rows[0] as FirmwareRow);
      await req.inTransaction?.(tx, stored);
      return stored;
    });
  } catch (err) {
    // Two uploads of the same (title, version) at once: the second loses at the unique index.
    if ((err as { code?: string }).code === '23505') throw duplicate();
    throw err;
  }
}

export interface DeleteOptions {
  /** Runs in the delete's transaction (the audit entry). */
  inTransaction?: (tx: PoolClient, deleted: FirmwareRecord & { finishedRolloutsDeleted: number }) => Promise<void>;
}

/**
 * Deletes a firmware row and unlinks its large object in one transaction. IN_USE while a
 * device or profile has it assigned or a rollout that is running or paused uses it;
 * NOT_FOUND when there is no such firmware. Finished rollouts (completed, cancelled) of it
 * are deleted with it (the foreign key allows no firmware-less rollout); the audit log
 * keeps their record.
 */
export async function deleteFirmware(
  pool: Pool,
  id: string,
  opts: DeleteOptions = {},
): Promise<FirmwareRecord & { finishedRolloutsDeleted: number }> {
  return withTransaction(pool, async (tx) => {
    // FOR UPDATE: an assignment's foreign-key check (FOR KEY SHARE) waits for this, or this for it.
    const { rows } = await tx.query<FirmwareRow & { data_oid: number }>(
      `SELECT ${FIRMWARE_COLUMNS}, data_oid FROM firmware WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new FirmwareError('NOT_FOUND', `no firmware ${id}`);
    const use = (
      await tx.query<{ devices: number; profiles: number; rollouts: number }>(
        `SELECT (SELECT count(*)::int FROM devices WHERE firmware_id = $1) AS devices,
                (SELECT count(*)::int FROM device_profiles WHERE firmware_id = $1) AS profiles,
                (SELECT count(*)::int FROM firmware_rollouts WHERE firmware_id = $1 AND status IN ('running', 'paused')) AS rollouts`,
        [id],
      )
    ).rows[0] as { devices: number; profiles: number; rollouts: number };
    if (use.devices + use.profiles + use.rollouts > 0)
      throw new FirmwareError(
        'IN_USE',
        `firmware ${row.title} ${row.version} is in use (${use.devices} devices, ${use.profiles} profiles, ${use.rollouts} unfinished rollouts): assign other firmware or finish the rollouts first`,
        use,
      );
    const finished = await tx.query('DELETE FROM firmware_rollouts WHERE firmware_id = $1', [id]);
    await tx.query('SELECT lo_unlink($1::oid)', [row.data_oid]);
    await tx.query('DELETE FROM firmware WHERE id = $1', [id]);
    const deleted = { ...toFirmwareRecord(row), finishedRolloutsDeleted: finished.rowCount ?? 0 };
    await opts.inTransaction?.(tx, deleted);
    return deleted;
  });
}
