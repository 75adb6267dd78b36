/**
 * device_attributes through pg: ThingsBoard's attribute scopes (client: sent by the
 * device; shared: set by operators, pushed to the device; server: operator-only).
 */
import type { Pool, PoolClient } from '@spms/db';
import type { TelemetryValue } from '@spms/queue';

export type AttributeScope = 'client' | 'shared' | 'server';
type Executor = Pool | PoolClient;

/** `keys` null = every key of the scope. */
export async function readAttributes(
  db: Executor,
  deviceId: string,
  scope: AttributeScope,
  keys: string[] | null,
): Promise<Record<string, TelemetryValue>> {
  const res = keys
    ? await db.query('SELECT key, value FROM device_attributes WHERE device_id = $1 AND scope = $2 AND key = ANY($3)', [
        deviceId,
        scope,
        keys,
      ])
    : await db.query('SELECT key, value FROM device_attributes WHERE device_id = $1 AND scope = $2', [deviceId, scope]);
  const out: Record<string, TelemetryValue> = {};
  for (const r of res.rows) out[r.key] = r.value;
  return out;
}

export async function upsertAttributes(
  db: Executor,
  deviceId: string,
  scope: AttributeScope,
  values: Record<string, TelemetryValue>,
): Promise<void> {
  const keys = Object.keys(values);
  if (keys.length === 0) return;
  await db.query(
    `INSERT INTO device_attributes (device_id, scope, key, value, updated_at)
     SELECT $1, $2, k, v, now() FROM unnest($3::text[], $4::jsonb[]) AS t(k, v)
     ON CONFLICT (device_id, scope, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
    [deviceId, scope, keys, keys.map((k) => JSON.stringify(values[k]))],
  );
}

export async function deleteAttributes(
  db: Executor,
  deviceId: string,
  scope: AttributeScope,
  keys: string[],
): Promise<number> {
  if (keys.length === 0) return 0;
  const res = await db.query('DELETE FROM device_attributes WHERE device_id = $1 AND scope = $2 AND key = ANY($3)', [
    deviceId,
    scope,
    keys,
  ]);
  return res.rowCount ?? 0;
}

/** `"a, b,c"` → ['a','b','c']; absent → null (all keys). */
export function splitKeys(s: string | undefined): string[] | null {
  if (s === undefined) return null;
  return s
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
}
