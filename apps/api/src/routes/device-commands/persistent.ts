/**
 * ThingsBoard's request fields on `POST /api/devices/{idOrName}/rpc` (docs/rpc.md):
 * `persistent`, `expirationTime`, `retries`, `timeout` (= timeoutMs), `additionalInfo`.
 *
 * A persistent RPC is stored QUEUED and answered at once, 200 `{rpcId, requestId, status}`
 * (ThingsBoard answers the rpcId for persistent requests); a copy goes into the device's
 * command list and the device is marked as having waiting RPCs, so it is delivered now if the
 * device is connected, or when it next connects (any broker) or polls (HTTP). Nothing in
 * Redis is needed for that: the row is the truth and the sweeper rebuilds the copies.
 */
import { withTransaction } from '@spms/db';
import { createPersistentRpc, markRpcPending, persistentRpcCommand } from '@spms/device-auth';
import { sendDeviceCommand, type TelemetryValue } from '@spms/queue';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { AppError } from '../../core/errors.js';
import { metricsOf } from '../../plugins/metrics.js';
import type { RpcBody } from './schemas.js';

type Body = Static<typeof RpcBody>;

const DEFAULT_TIMEOUT_MS = 10_000;
/** params and additionalInfo together, as JSON: what one device message may carry. */
const MAX_STORED_BYTES = 65_536;

/** timeoutMs or ThingsBoard's `timeout` (both: they must agree). */
export function requestedTimeout(body: Body): number | undefined {
  if (body.timeoutMs !== undefined && body.timeout !== undefined && body.timeoutMs !== body.timeout)
    throw new AppError('BAD_REQUEST', 'give "timeoutMs" or "timeout" (the same thing), not two different values');
  return body.timeoutMs ?? body.timeout;
}

/**
 * The wait of a non-persistent RPC: the timeout, or what is left until `expirationTime`
 * (ThingsBoard lets it replace the timeout). Fields only a stored RPC can use are refused.
 */
export function lightweightTimeout(body: Body, now = Date.now()): number {
  if (body.retries !== undefined || body.additionalInfo !== undefined)
    throw new AppError('BAD_REQUEST', '"retries" and "additionalInfo" need "persistent": true');
  const timeout = requestedTimeout(body);
  if (body.expirationTime === undefined) return timeout ?? DEFAULT_TIMEOUT_MS;
  const left = body.expirationTime - now;
  if (left < 100 || left > 300_000)
    throw new AppError(
      'BAD_REQUEST',
      'a non-persistent RPC\'s "expirationTime" must be 0.1 to 300 s from now (use "persistent": true to wait longer)',
    );
  return left;
}

export async function sendPersistentRpc(
  app: FastifyInstance,
  req: FastifyRequest,
  body: Body,
  device: { id: string },
): Promise<{ rpcId: string; requestId: number; status: string }> {
  const cfg = app.config;
  const now = Date.now();
  const timeoutMs = requestedTimeout(body) ?? DEFAULT_TIMEOUT_MS;
  const expirationTime = body.expirationTime ?? now + cfg.RPC_PERSISTENT_DEFAULT_TTL_MS;
  if (expirationTime <= now) throw new AppError('BAD_REQUEST', '"expirationTime" (epoch ms) is in the past');
  if (expirationTime > now + cfg.RPC_PERSISTENT_MAX_TTL_MS)
    throw new AppError(
      'BAD_REQUEST',
      `"expirationTime" is more than ${cfg.RPC_PERSISTENT_MAX_TTL_MS} ms ahead (RPC_PERSISTENT_MAX_TTL_MS)`,
    );
  const retries = body.retries ?? 0;
  if (retries > cfg.RPC_MAX_RETRIES)
    throw new AppError('BAD_REQUEST', `"retries" is at most ${cfg.RPC_MAX_RETRIES} (RPC_MAX_RETRIES)`);
  const params = (body.params ?? {}) as TelemetryValue;
  const additionalInfo = (body.additionalInfo ?? null) as TelemetryValue | null;
  if (Buffer.byteLength(JSON.stringify([params, additionalInfo])) > MAX_STORED_BYTES)
    throw new AppError('PAYLOAD_TOO_LARGE', `"params" and "additionalInfo" together exceed ${MAX_STORED_BYTES} bytes`);

  // Stored and audited together; nothing reaches Redis before the row exists.
  const rpc = await withTransaction(app.pg, async (tx) => {
    const row = await createPersistentRpc(tx, {
      deviceId: device.id,
      method: body.method,
      params,
      oneway: body.oneway === true,
      retries,
      timeoutMs,
      expirationTime,
      additionalInfo,
      // Who asked: the user behind a session or key, else the key (never a session's id).
      createdBy: req.principal
        ? req.principal.userId
          ? `user:${req.principal.userId}`
          : `${req.principal.kind}:${req.principal.id}`
        : null,
    });
    await app.audit(
      req,
      {
        action: 'device.rpc',
        entityType: 'device',
        entityId: device.id,
        after: {
          rpcId: row.id,
          requestId: row.requestId,
          persistent: true,
          method: row.method,
          params,
          oneway: row.oneway,
          timeoutMs,
          retries,
          expirationTime,
        },
      },
      tx,
    );
    return row;
  });
  const m = metricsOf(app).commands;
  m.inc({ kind: 'persistent_rpc', result: 'queued' });
  try {
    await markRpcPending(app.redis, cfg.REDIS_PREFIX, device.id);
    const { result } = await sendDeviceCommand(app.redis, cfg.REDIS_PREFIX, persistentRpcCommand(rpc), {
      onlyIfLive: false,
      wakeup: cfg.PUBSUB_WAKEUPS,
    });
    m.inc({ kind: 'rpc', result });
  } catch (err) {
    // Stored: the sweeper puts the copy and the marker back from the row.
    req.log.warn({ err: (err as Error).message, rpcId: rpc.id }, 'persistent RPC stored but not yet queued in Redis');
  }
  return { rpcId: rpc.id, requestId: rpc.requestId, status: rpc.status };
}
