/** Client attributes published by devices: newest receive time wins per key. */
import type { PoolClient } from '@spms/db';
import type { DeviceRows } from './prepare.js';
import { tsParam } from './sql.js';

/** Upsert of the attributes, $N-numbered from `first` (also used as a CTE of a bigger statement). */
export const upsertAttributesSql = (first: number) => `
INSERT INTO device_attributes (device_id, scope, key, value, updated_at)
SELECT d, 'client', k, v::jsonb, ${tsParam('t')}
  FROM unnest($${first}::uuid[], $${first + 1}::text[], $${first + 2}::text[], $${first + 3}::float8[]) AS x(d, k, v, t)
ON CONFLICT (device_id, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
 WHERE device_attributes.updated_at <= EXCLUDED.updated_at`;
const SQL = upsertAttributesSql(1);

export async function upsertAttributes(client: PoolClient, devices: DeviceRows[]): Promise<void> {
  const columns = attributeColumns(devices);
  if ((columns[0] as unknown[]).length === 0) return;
  await client.query(SQL, columns);
}

/** The newest value per (device, key) of the batch, as columns for `upsertAttributesSql`. */
export function attributeColumns(devices: DeviceRows[]): unknown[][] {
  const newest = new Map<string, { d: string; k: string; v: string; t: number; m: string }>();
  for (const d of devices) {
    for (const a of d.attributes) {
      const key = `${d.deviceId}|${a.key}`;
      const cur = newest.get(key);
      // (receive time, message id) orders two writes of one key the same way on every run
      if (!cur || a.ts > cur.t || (a.ts === cur.t && a.msgId > cur.m))
        newest.set(key, { d: d.deviceId, k: a.key, v: JSON.stringify(a.value), t: a.ts, m: a.msgId });
    }
  }
  const rows = [...newest.values()];
  return [rows.map((r) => r.d), rows.map((r) => r.k), rows.map((r) => r.v), rows.map((r) => r.t)];
}
