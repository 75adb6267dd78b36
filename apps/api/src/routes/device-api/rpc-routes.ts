/**
 * ThingsBoard's HTTP device RPC:
 * - `GET  /:token/rpc?timeout=ms` long-polls for a server-side RPC: 200 `{"id","method","params"}`,
 *   408 when none came within the timeout (ThingsBoard answers 408 too);
 * - `POST /:token/rpc/:id` the device's reply to server-side RPC `id` (relayed to whoever waits);
 * - `POST /:token/rpc` client-side RPC. ThingsBoard hands those to the rule engine; we answer
 *   the one the fleet's firmware family uses for clock sync, `getCurrentTime` →
 *   `{"time": <epoch ms>}`, and 501 for any other method.
 */

import type { Pool } from '@spms/db';
import { claimRpcForSending, markRpcDelivered, recordRpcResponse, requeueOnConnect } from '@spms/device-auth';
import {
  CROSS_PROCESS_SWEEP_MS,
  deviceCommandsKey,
  isPersistentRpcId,
  liveCommands,
  type RpcRequestCommand,
  relayRpcResponse,
  rpcHttpBody,
  type TelemetryValue,
} from '@spms/queue';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../../core/errors.js';
import { authenticateToken } from './gateway.js';
import { parseObjectBody, rawBody, type TokenParams, tokenParams } from './ingest-routes.js';
import { sendTooMany } from './throttle.js';

const DEFAULT_POLL_MS = 60_000;
const MAX_POLL_MS = 300_000;

/**
 * The next untaken, unexpired RPC for the device, removed from its command list. Other
 * entries are dropped: an HTTP device has no channel for attribute pushes (it reads them).
 */
async function popPending(redis: Redis, pool: Pool, key: string, deviceId: string): Promise<RpcRequestCommand | null> {
  for (;;) {
    const raw = await redis.lpop(key);
    if (raw === null) return null;
    const [cmd] = liveCommands([raw], deviceId);
    if (cmd?.kind !== 'rpc') continue;
    if (!cmd.rpcId) return cmd;
    // A persistent RPC's copy: sent only by whoever claims its row (docs/rpc.md).
    const rpc = await claimRpcForSending(pool, deviceId, cmd.rpcId);
    if (rpc) return { ...cmd, method: rpc.method, params: rpc.params };
  }
}

export async function rpcRoutes(app: FastifyInstance): Promise<void> {
  const prefix = app.config.REDIS_PREFIX;
  /** Open long-polls per device in this process (RPC_POLLS_PER_DEVICE): each holds a socket and a waiter. */
  const polls = new Map<string, number>();

  app.get<{ Params: TokenParams; Querystring: { timeout?: number } }>(
    '/:token/rpc',
    {
      schema: {
        params: tokenParams,
        querystring: { type: 'object', properties: { timeout: { type: 'integer', minimum: 0 } } },
      },
    },
    async (req, reply) => {
      const device = await authenticateToken(app, req.params.token);
      const open = polls.get(device.id) ?? 0;
      if (open >= app.config.RPC_POLLS_PER_DEVICE)
        return sendTooMany(reply, 1000, `at most ${app.config.RPC_POLLS_PER_DEVICE} RPC polls per device at a time`);
      polls.set(device.id, open + 1);
      try {
        return await pollRpc(device.id, req.query.timeout, reply);
      } finally {
        const left = (polls.get(device.id) ?? 1) - 1;
        if (left > 0) polls.set(device.id, left);
        else polls.delete(device.id);
      }
    },
  );

  async function pollRpc(deviceId: string, timeout: number | undefined, reply: FastifyReply) {
    const waitMs = Math.min(timeout || DEFAULT_POLL_MS, MAX_POLL_MS);
    const deadline = Date.now() + waitMs;
    const key = deviceCommandsKey(prefix, deviceId);
    await app.commandWakeups.ready();
    // Copies of waiting persistent RPCs the list lacks (one SISMEMBER unless marked).
    await requeueOnConnect(app.pg, app.redis, prefix, deviceId, app.config.PUBSUB_WAKEUPS).catch(() => 0);
    // The response's 'close' (not the request's, which fires once the body is read) tells
    // that the device hung up: stop waiting at once, so it no longer holds a poll slot.
    let gone = false;
    let cancelWait = () => {};
    reply.raw.once('close', () => {
      gone = true;
      cancelWait();
    });
    for (;;) {
      // Register before looking, so an RPC queued in between still wakes us; look again after
      // a sweep interval at most, in case the wake-up was lost.
      const wait = app.commandWakeups.wait(
        deviceId,
        Math.min(Math.max(deadline - Date.now(), 0), CROSS_PROCESS_SWEEP_MS),
      );
      cancelWait = wait.cancel;
      const cmd = await popPending(app.redis, app.pg, key, deviceId).catch(() => {
        wait.cancel();
        throw new AppError('UNAVAILABLE', 'command store unavailable; retry later');
      });
      if (cmd) {
        wait.cancel();
        // The answer written: as DELIVERED as HTTP can tell.
        if (cmd.rpcId)
          reply.raw.once('finish', () => void markRpcDelivered(app.pg, deviceId, cmd.requestId).catch(() => null));
        return reply.status(200).send(rpcHttpBody(cmd));
      }
      if (Date.now() >= deadline || gone) {
        wait.cancel();
        return reply.status(408).send({ error: 'TIMEOUT', message: `no RPC within ${waitMs} ms` });
      }
      await wait.done;
    }
  }

  app.post<{ Params: TokenParams & { id: string } }>(
    '/:token/rpc/:id',
    {
      schema: {
        params: {
          type: 'object',
          properties: { ...tokenParams.properties, id: { type: 'string', pattern: '^[0-9]{1,15}$' } },
          required: ['token', 'id'],
        },
      },
    },
    async (req, reply) => {
      const device = await authenticateToken(app, req.params.token);
      const body = rawBody(req.body);
      let response: TelemetryValue;
      try {
        response = parseObjectBody(body);
      } catch {
        // Any reply is relayed; a non-object one as its text (ThingsBoard relays it as-is too).
        response = body.toString('utf8');
      }
      const requestId = Number(req.params.id);
      if (isPersistentRpcId(requestId)) {
        // Recorded on the row only if it is this device's RPC and out; 200 either way.
        await recordRpcResponse(app.pg, device.id, requestId, response);
        return reply.status(200).send();
      }
      // Stored for the waiting operator request (any API process); 200 even if nobody waits, as before.
      await relayRpcResponse(
        app.redis,
        prefix,
        device.id,
        Number(req.params.id),
        response,
        app.config.PUBSUB_WAKEUPS,
      ).catch(() => {
        throw new AppError('UNAVAILABLE', 'command channel unavailable; retry later');
      });
      return reply.status(200).send();
    },
  );

  app.post<{ Params: TokenParams }>('/:token/rpc', { schema: { params: tokenParams } }, async (req, reply) => {
    await authenticateToken(app, req.params.token);
    const request = parseObjectBody(rawBody(req.body));
    const method = request.method;
    if (typeof method !== 'string' || method === '')
      throw new AppError('BAD_REQUEST', 'client-side RPC needs {"method": "...", "params": ...}');
    if (method === 'getCurrentTime') return reply.status(200).send({ time: Date.now() });
    return reply.status(501).send({ error: 'NOT_IMPLEMENTED', message: `no handler for client-side RPC "${method}"` });
  });
}
