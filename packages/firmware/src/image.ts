/**
 * An image read whole as a stream of blocks (lo_get per block, no transaction): the operator
 * download and a device asking for the image without a chunk size hold one block at a time.
 */
import type { Queryable } from '@spms/db';

/** Bytes per lo_get when an image is streamed whole. */
export const READ_BLOCK = 256 * 1024;

/**
 * The bytes [from, to) of firmware `id`'s image, block by block; nothing when the firmware
 * does not exist (the caller checked it a moment ago; a delete in between ends the stream
 * with an error from lo_get).
 */
export async function* readImage(
  db: Queryable,
  id: string,
  range: { from?: number; to?: number } = {},
  blockSize = READ_BLOCK,
): AsyncGenerator<Buffer> {
  const { rows } = await db.query<{ data_oid: number; size: string }>(
    'SELECT data_oid, size::text AS size FROM firmware WHERE id = $1',
    [id],
  );
  const row = rows[0];
  if (!row) return;
  const end = Math.min(range.to ?? Number(row.size), Number(row.size));
  for (let at = range.from ?? 0; at < end; at += blockSize) {
    const n = Math.min(blockSize, end - at);
    const res = await db.query<{ data: Buffer }>('SELECT lo_get($1::oid, $2::bigint, $3::int) AS data', [
      row.data_oid,
      at,
      n,
    ]);
    yield res.rows[0]?.data ?? Buffer.alloc(0);
  }
}
