/**
 * The fleet view's snapshot (device_status_rows, migration 20261203000200): recomputed for
 * the devices a transaction changed, as its last write before the events are numbered and
 * it commits (outbox.ts). Under the per-device advisory lock, so the rows hold every write
 * of the device committed before, and a reader's snapshot that sees this transaction's
 * events sees these rows (the API reads seq and rows in one statement).
 */
import type { PoolClient } from '@spms/db';

const REFRESH = 'SELECT status_rows_refresh($1::uuid[])';

export async function refreshStatusRows(client: PoolClient, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length > 0) await client.query(REFRESH, [deviceIds]);
}
