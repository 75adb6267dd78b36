/**
 * Operator commands to devices, under /api/devices (Bearer API key; writes need role
 * operator):
 * - `GET  /:idOrName/attributes` every attribute of the device by scope;
 * - `POST /:idOrName/attributes` `{ "shared": {k: v}, "deleted"?: [keys] }` stores shared
 *   attributes and pushes the change to the device's live session (ThingsBoard format);
 *   the firmware target's `fw_*` keys are refused (400): firmware assignment sets them;
 * - `POST /:idOrName/rpc` `{ method, params?, timeoutMs?, oneway? }` server-side RPC:
 *   200 `{requestId, response}` with the device's answer, 504 when it does not answer in
 *   time, 202 `{requestId}` for oneway. With `"persistent": true` (and ThingsBoard's
 *   `expirationTime`, `retries`, `additionalInfo`) it is stored and answered at once with
 *   200 `{rpcId, requestId, status}` (persistent.ts, docs/rpc.md);
 * - `GET /:idOrName/rpc` the device's persistent RPC history (../rpc/history.ts).
 * Delivery goes through Redis (packages/queue/src/commands.ts): the command waits in the
 * device's list, which the broker holding its MQTT session (any broker process) or the HTTP
 * device API's long-poll (any API process) takes; pub/sub only wakes them. A push for a
 * device without a live session is not queued (it reads its shared attributes when it
 * connects); an RPC waits until its timeout for the device to connect or poll, then 504.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { FIRMWARE_ATTRIBUTE_KEYS } from '@spms/firmware';
import type { Logger } from '@spms/log';
import {
  type AttributesUpdateCommand,
  attributePushExpiry,
  deviceCommandsKey,
  type RpcRequestCommand,
  rpcSequenceKey,
  sendDeviceCommand,
  type TelemetryValue,
} from '@spms/queue';
import { AppError } from '../../core/errors.js';
import { requireRole } from '../../plugins/auth.js';
import { metricsOf } from '../../plugins/metrics.js';
import { deleteAttributes, readAttributes, upsertAttributes } from '../device-api/attributes.js';
import { ErrorBody, errorResponses } from '../error-schema.js';
import { registerRpcHistory } from '../rpc/history.js';
import { lightweightTimeout, sendPersistentRpc } from './persistent.js';
import { resolveDevice } from './resolve-device.js';
import { RpcResponses } from './rpc-responses.js';
import {
  DeviceAttributesReply,
  DeviceRefParams,
  PushAttributesBody,
  PushAttributesReply,
  RpcBody,
  RpcReply,
} from './schemas.js';

const FIRMWARE_KEYS: ReadonlySet<string> = new Set(FIRMWARE_ATTRIBUTE_KEYS);

const deviceCommandRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const prefix = app.config.REDIS_PREFIX;
  const wakeup = app.config.PUBSUB_WAKEUPS;
  const rpcResponses = new RpcResponses(
    app.redis,
    app.config.REDIS_URL,
    prefix,
    app.log.child({ component: 'device-commands' }) as unknown as Logger,
  );
  app.addHook('onClose', async () => rpcResponses.close());
  app.addHook('onRequest', app.authenticate);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
  });

  app.get(
    '/:idOrName/attributes',
    { schema: { params: DeviceRefParams, response: { 200: DeviceAttributesReply, ...errorResponses } } },
    async (req) => {
      const device = await resolveDevice(app.pg, req.params.idOrName, req.principal?.scope ?? null);
      const [client, shared, server] = await Promise.all(
        (['client', 'shared', 'server'] as const).map((scope) => readAttributes(app.pg, device.id, scope, null)),
      );
      return { client: client ?? {}, shared: shared ?? {}, server: server ?? {} };
    },
  );

  app.post(
    '/:idOrName/attributes',
    {
      schema: {
        params: DeviceRefParams,
        body: PushAttributesBody,
        response: { 200: PushAttributesReply, ...errorResponses },
      },
    },
    async (req) => {
      const device = await resolveDevice(app.pg, req.params.idOrName, req.principal?.scope ?? null);
      const shared = (req.body.shared ?? {}) as Record<string, TelemetryValue>;
      const updated = Object.keys(shared);
      const deleted = (req.body.deleted ?? []).filter((k) => !(k in shared));
      if (updated.length === 0 && deleted.length === 0)
        throw new AppError('BAD_REQUEST', 'nothing to do: give "shared" values and/or "deleted" keys');
      if ('deleted' in shared)
        throw new AppError('BAD_REQUEST', '"deleted" is reserved (ThingsBoard lists removed keys under it)');
      // The firmware target's attributes are written only by firmware assignment (and
      // rollouts): one set here would send the device to another image, or none.
      const firmwareKeys = [...updated, ...deleted].filter((k) => FIRMWARE_KEYS.has(k));
      if (firmwareKeys.length > 0)
        throw new AppError(
          'BAD_REQUEST',
          `${firmwareKeys.join(', ')}: firmware attributes are set by firmware assignment; use PATCH /api/devices/{idOrName} with {"firmwareId"} (or a rollout) instead`,
        );
      const before = await readAttributes(app.pg, device.id, 'shared', [...updated, ...deleted]);
      await withTransaction(app.pg, async (tx) => {
        await upsertAttributes(tx, device.id, 'shared', shared);
        await deleteAttributes(tx, device.id, 'shared', deleted);
        const change = { before: { shared: before }, after: { shared, deleted } };
        await app.audit(
          req,
          { action: 'device.attributes.push', entityType: 'device', entityId: device.id, ...change },
          tx,
        );
      });
      const cmd: AttributesUpdateCommand = {
        kind: 'attributes',
        deviceId: device.id,
        payload: deleted.length > 0 ? { ...shared, deleted } : shared,
        expiresAt: attributePushExpiry(),
      };
      // Stored already: a failed push only means the device learns the values when it asks.
      const sent = await sendDeviceCommand(app.redis, prefix, cmd, { onlyIfLive: true, wakeup }).catch((err: Error) => {
        req.log.error({ err: err.message, deviceId: device.id }, 'could not push shared attributes');
        return null;
      });
      metricsOf(app).commands.inc({ kind: 'attributes', result: sent?.result ?? 'failed' });
      return { deviceId: device.id, updated, deleted, delivered: sent?.result === 'live' ? 1 : 0 };
    },
  );

  app.post(
    '/:idOrName/rpc',
    {
      schema: {
        params: DeviceRefParams,
        body: RpcBody,
        response: { 200: RpcReply, 202: RpcReply, ...errorResponses, 503: ErrorBody, 504: ErrorBody },
      },
    },
    async (req, reply) => {
      const device = await resolveDevice(app.pg, req.params.idOrName, req.principal?.scope ?? null);
      if (req.body.persistent) return sendPersistentRpc(app, req, req.body, device);
      const timeoutMs = lightweightTimeout(req.body);
      let requestId: number;
      try {
        // Subscribed first so the wake-up is not missed (the answer would still come, a sweep later).
        if (wakeup) await rpcResponses.ready();
        requestId = await app.redis.incr(rpcSequenceKey(prefix));
      } catch {
        throw new AppError('UNAVAILABLE', 'command channel (Redis) unavailable; retry later');
      }
      const cmd: RpcRequestCommand = {
        kind: 'rpc',
        deviceId: device.id,
        requestId,
        method: req.body.method,
        params: (req.body.params ?? {}) as TelemetryValue,
        expiresAt: Date.now() + timeoutMs,
      };
      // Recorded before the command leaves (no entry, no command).
      await app.audit(
        req,
        {
          action: 'device.rpc',
          entityType: 'device',
          entityId: device.id,
          after: { requestId, method: cmd.method, params: cmd.params, oneway: req.body.oneway === true, timeoutMs },
        },
        app.pg,
      );
      let answer: Promise<TelemetryValue | undefined> | undefined;
      let raw: string;
      try {
        // The answer's key exists before the RPC can reach the device.
        if (!req.body.oneway) ({ answer } = await rpcResponses.wait(device.id, requestId, timeoutMs));
        let result: string;
        ({ raw, result } = await sendDeviceCommand(app.redis, prefix, cmd, { onlyIfLive: false, wakeup }));
        metricsOf(app).commands.inc({ kind: 'rpc', result });
      } catch {
        metricsOf(app).commands.inc({ kind: 'rpc', result: 'failed' });
        throw new AppError('UNAVAILABLE', 'command channel (Redis) unavailable; retry later');
      }
      if (!answer) return reply.status(202).send({ requestId });
      const response = await answer;
      if (response === undefined) {
        // Not taken by now: it must not reach the device later.
        await app.redis.lrem(deviceCommandsKey(prefix, device.id), 0, raw).catch(() => {});
        return reply
          .status(504)
          .send({ error: 'TIMEOUT', message: `device did not answer RPC ${requestId} within ${timeoutMs} ms` });
      }
      return { requestId, response };
    },
  );

  registerRpcHistory(app);
};

export default deviceCommandRoutes;
