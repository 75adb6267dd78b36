/**
 * The database side of persistent server-side RPC (docs/rpc.md), shared by the broker (MQTT
 * delivery, PUBACK, the device's answer), the API (creation, history, the HTTP device
 * long-poll, the sweeper). device_rpc is the truth; the device's Redis command list holds
 * copies (RpcRequestCommand with rpcId) that deliver it, and every state change is one
 * conditional UPDATE, so two processes holding copies of one RPC cannot both send it, and a
 * late or foreign answer changes nothing.
 */
import type { Pool } from '@spms/db';
import {
  deviceCommandsKey,
  type RpcRequestCommand,
  rpcPendingDevicesKey,
  sendDeviceCommand,
  type TelemetryValue,
} from '@spms/queue';
import type { Redis } from 'ioredis';

export const RPC_STATUSES = [
  'QUEUED',
  'SENT',
  'DELIVERED',
  'SUCCESSFUL',
  'TIMEOUT',
  'EXPIRED',
  'FAILED',
  'CANCELLED',
] as const;
export type RpcStatus = (typeof RPC_STATUSES)[number];

export interface PersistentRpc {
  id: string;
  deviceId: string;
  requestId: number;
  method: string;
  params: TelemetryValue;
  oneway: boolean;
  persistent: boolean;
  status: RpcStatus;
  response: TelemetryValue | null;
  error: string | null;
  retries: number;
  attempts: number;
  timeoutMs: number;
  expirationTime: number;
  additionalInfo: TelemetryValue | null;
  createdBy: string | null;
  createdAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  completedAt: string | null;
  updatedAt: string;
}

/** Columns as PersistentRpc (epoch ms for the expiration, ISO text for the rest). */
export const RPC_COLUMNS = `id, device_id AS "deviceId", request_id AS "requestId", method, params, oneway, persistent,
  status, response, error, retries, attempts, timeout_ms AS "timeoutMs",
  (extract(epoch FROM expiration_time) * 1000)::float8 AS "expirationTime", additional_info AS "additionalInfo",
  created_by AS "createdBy", to_json(created_at) #>> '{}' AS "createdAt", to_json(sent_at) #>> '{}' AS "sentAt",
  to_json(delivered_at) #>> '{}' AS "deliveredAt", to_json(completed_at) #>> '{}' AS "completedAt",
  to_json(updated_at) #>> '{}' AS "updatedAt"`;

export interface NewPersistentRpc {
  deviceId: string;
  method: string;
  params: TelemetryValue;
  oneway: boolean;
  retries: number;
  timeoutMs: number;
  /** Epoch ms. */
  expirationTime: number;
  additionalInfo: TelemetryValue | null;
  createdBy: string | null;
}

type Query = Pick<Pool, 'query'>;

export async function createPersistentRpc(db: Query, rpc: NewPersistentRpc): Promise<PersistentRpc> {
  const { rows } = await db.query<PersistentRpc>(
    `INSERT INTO device_rpc (device_id, method, params, oneway, retries, timeout_ms, expiration_time, additional_info, created_by)
     VALUES ($1, $2, $3::jsonb, $4, $5, $6, to_timestamp($7::float8 / 1000), $8::jsonb, $9)
     RETURNING ${RPC_COLUMNS}`,
    [
      rpc.deviceId,
      rpc.method,
      JSON.stringify(rpc.params),
      rpc.oneway,
      rpc.retries,
      rpc.timeoutMs,
      rpc.expirationTime,
      rpc.additionalInfo === null ? null : JSON.stringify(rpc.additionalInfo),
      rpc.createdBy,
    ],
  );
  return rows[0] as PersistentRpc;
}

/** The Redis copy of a queued RPC; it stops being deliverable when the RPC expires. */
export function persistentRpcCommand(rpc: PersistentRpc): RpcRequestCommand {
  return {
    kind: 'rpc',
    deviceId: rpc.deviceId,
    requestId: rpc.requestId,
    method: rpc.method,
    params: rpc.params,
    expiresAt: rpc.expirationTime,
    rpcId: rpc.id,
  };
}

/**
 * QUEUED → SENT for the process about to publish it (attempts + 1). null: someone else sent
 * it, it finished, was cancelled or has expired — drop the copy. The row's method and params
 * are what goes out, never the copy's.
 */
export async function claimRpcForSending(db: Query, deviceId: string, rpcId: string): Promise<PersistentRpc | null> {
  const { rows } = await db.query<PersistentRpc>(
    `UPDATE device_rpc SET status = 'SENT', attempts = attempts + 1, sent_at = now(), updated_at = now()
      WHERE id = $1 AND device_id = $2 AND status = 'QUEUED' AND expiration_time > now()
      RETURNING ${RPC_COLUMNS}`,
    [rpcId, deviceId],
  );
  return rows[0] ?? null;
}

/**
 * SENT → DELIVERED: the device acknowledged it (PUBACK) or the HTTP poll answered it. A
 * oneway RPC is finished there (ThingsBoard's final state for it). null: not SENT any more.
 */
export async function markRpcDelivered(db: Query, deviceId: string, requestId: number): Promise<PersistentRpc | null> {
  const { rows } = await db.query<PersistentRpc>(
    `UPDATE device_rpc SET status = 'DELIVERED', delivered_at = now(), updated_at = now(),
            completed_at = CASE WHEN oneway THEN now() ELSE completed_at END
      WHERE device_id = $1 AND request_id = $2 AND status = 'SENT'
      RETURNING ${RPC_COLUMNS}`,
    [deviceId, requestId],
  );
  return rows[0] ?? null;
}

/**
 * The device answered request `requestId`: SUCCESSFUL with the answer, only for this
 * device's own two-way RPC that is out (SENT or DELIVERED, or QUEUED again after an attempt
 * timed out: the answer to the earlier attempt counts). Idempotent: a second answer, an
 * answer to a finished or unknown RPC, or another device's id changes nothing (false).
 */
export async function recordRpcResponse(
  db: Query,
  deviceId: string,
  requestId: number,
  response: TelemetryValue,
): Promise<PersistentRpc | null> {
  const { rows } = await db.query<PersistentRpc>(
    `UPDATE device_rpc SET status = 'SUCCESSFUL', response = $3::jsonb, completed_at = now(), updated_at = now()
      WHERE device_id = $1 AND request_id = $2 AND NOT oneway
        AND (status IN ('SENT', 'DELIVERED') OR (status = 'QUEUED' AND attempts > 0))
      RETURNING ${RPC_COLUMNS}`,
    [deviceId, requestId, JSON.stringify(response)],
  );
  return rows[0] ?? null;
}

/** Marks the device as having waiting RPCs (see rpcPendingDevicesKey). */
export async function markRpcPending(redis: Redis, prefix: string, deviceId: string): Promise<void> {
  await redis.sadd(rpcPendingDevicesKey(prefix), deviceId);
}

/** The device's QUEUED, unexpired RPCs, oldest first. */
export async function queuedRpcs(db: Query, deviceId: string): Promise<PersistentRpc[]> {
  const { rows } = await db.query<PersistentRpc>(
    `SELECT ${RPC_COLUMNS} FROM device_rpc
      WHERE device_id = $1 AND status = 'QUEUED' AND expiration_time > now()
      ORDER BY created_at, request_id`,
    [deviceId],
  );
  return rows;
}

/**
 * Puts copies of the device's QUEUED RPCs that its command list lacks back into the list
 * (after a Redis flush, a trimmed list, or a retry). `onlyIfLive`: only for a device with a
 * live MQTT session. Returns how many were queued.
 */
export async function requeueRpcs(
  pool: Query,
  redis: Redis,
  prefix: string,
  deviceId: string,
  opts: { onlyIfLive: boolean; wakeup: boolean; rows?: PersistentRpc[] },
): Promise<number> {
  const rows = opts.rows ?? (await queuedRpcs(pool, deviceId));
  if (rows.length === 0) return 0;
  const inList = new Set<string>();
  for (const raw of await redis.lrange(deviceCommandsKey(prefix, deviceId), 0, -1)) {
    try {
      const id = (JSON.parse(raw) as { rpcId?: unknown }).rpcId;
      if (typeof id === 'string') inList.add(id);
    } catch {
      // not ours to judge
    }
  }
  let n = 0;
  for (const rpc of rows) {
    if (inList.has(rpc.id)) continue;
    const { result } = await sendDeviceCommand(redis, prefix, persistentRpcCommand(rpc), {
      onlyIfLive: opts.onlyIfLive,
      wakeup: opts.wakeup,
    });
    if (result === 'not_queued') break; // no live session: the next connect brings them
    n++;
  }
  return n;
}

/**
 * On connect (or subscribe, or an HTTP poll): if the marker says the device may have waiting
 * RPCs, copies them into its command list. One Redis round trip for a device without.
 */
export async function requeueOnConnect(
  pool: Query,
  redis: Redis,
  prefix: string,
  deviceId: string,
  wakeup: boolean,
): Promise<number> {
  if ((await redis.sismember(rpcPendingDevicesKey(prefix), deviceId)) !== 1) return 0;
  return requeueRpcs(pool, redis, prefix, deviceId, { onlyIfLive: false, wakeup });
}
