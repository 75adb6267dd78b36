/**
 * Operator history import: POST /api/devices/:idOrName/telemetry takes ThingsBoard's
 * timestamped telemetry forms (`{"ts","values"}` or an array of them; values may be strings
 * as ThingsBoard's REST API returns them) and puts them through the live ingest path (the
 * ingest queue; the worker stores and evaluates them). 202 once every entry is durably
 * queued. Re-posting the same history adds nothing (routes/devices/history-import.ts).
 * GET/PUT …/telemetry/import-progress keep an importer's per-device progress in SPMS;
 * GET …/telemetry/stored?ts= says whether the worker has stored a posted request.
 * Writes need role operator (devices/index.ts) and the device in the caller's scope.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import type { Logger } from '@spms/log';
import { createIngestProducer, IngestRejectedError } from '@spms/queue';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { ErrorBody, errorResponses } from '../error-schema.js';
import {
  isStored,
  MAX_HISTORY_ENTRIES,
  prepareHistory,
  readImportProgress,
  recordFirstReport,
  saveImportProgress,
} from './history-import.js';
import type { DeviceRouteOptions } from './route-options.js';
import { DeviceParams } from './schemas.js';

// 10,000 entries of a full 8-line + voltage report as ThingsBoard returns them (strings).
const HISTORY_BODY_LIMIT = 16 * 1024 * 1024;
const WAIT_LIMIT_MS = 60_000;

const Entry = Type.Object(
  {
    ts: Type.Integer({ description: 'event time, epoch milliseconds' }),
    values: Type.Record(Type.String(), Type.Unknown(), { description: 'key → value, e.g. {"1":"true","V":"219.5"}' }),
  },
  { additionalProperties: false },
);
const HistoryBody = Type.Union([Entry, Type.Array(Entry)], {
  description: `ThingsBoard's timestamped telemetry: one {"ts","values"} or an array (at most ${MAX_HISTORY_ENTRIES})`,
});
const HistoryQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Boolean({
        description: `answer once the worker has stored the entries (up to ${WAIT_LIMIT_MS / 1000} s); importers post the next batch only then, so history is evaluated in order`,
      }),
    ),
  },
  { additionalProperties: false },
);
const HistoryResult = Type.Object({
  deviceId: Type.String(),
  stored: Type.Boolean({ description: 'true: stored by the worker; false: queued (not waited for, or still queued)' }),
  entries: Type.Integer({ description: 'distinct timestamps queued (entries sharing a ts are merged)' }),
  from: Type.Integer({ description: 'earliest ts, epoch ms' }),
  through: Type.Integer({ description: 'latest ts, epoch ms' }),
});
const Progress = Type.Object({
  source: Type.Union([Type.String(), Type.Null()]),
  from: Type.Union([Type.Integer(), Type.Null()]),
  through: Type.Union([Type.Integer(), Type.Null()]),
  firstReportAt: Type.Union([Type.Integer(), Type.Null()]),
});
const ProgressBody = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 200, description: 'e.g. the ThingsBoard URL and device id' }),
    from: Type.Integer({ description: 'start of the imported span, epoch ms' }),
    through: Type.Integer({ description: 'the span is durably queued up to here, epoch ms' }),
  },
  { additionalProperties: false },
);

const historyRoutes: FastifyPluginAsyncTypebox<DeviceRouteOptions> = async (app, { registry }) => {
  const { REDIS_URL, REDIS_PREFIX } = app.config;
  // The same producer the HTTP device API uses (packages/queue), for this scope only.
  const logger = app.log.child({ component: 'history-import' }) as unknown as Logger;
  // One request's messages are committed as ONE job (group limits above a request's size),
  // so the worker stores them in one transaction, in order: an import is not evaluated with
  // a later part of its history stored before an earlier one.
  const ingest = createIngestProducer({
    redisUrl: REDIS_URL,
    prefix: REDIS_PREFIX,
    logger,
    maxBatch: MAX_HISTORY_ENTRIES,
    maxBatchBytes: 2 * HISTORY_BODY_LIMIT,
    maxMessageBytes: HISTORY_BODY_LIMIT,
  });
  app.addHook('onClose', async () => ingest.close());

  app.post(
    '/:idOrName/telemetry',
    {
      bodyLimit: HISTORY_BODY_LIMIT,
      schema: {
        params: DeviceParams,
        querystring: HistoryQuery,
        body: HistoryBody,
        response: { 202: HistoryResult, 413: ErrorBody, 503: ErrorBody, ...errorResponses },
      },
    },
    async (req, reply) => {
      const receivedAt = Date.now();
      const device = await registry.get(req.params.idOrName, req.principal?.scope ?? null);
      const history = prepareHistory(device.id, req.body, receivedAt);
      try {
        await Promise.all(history.messages.map((m) => ingest.enqueue(m)));
      } catch (err) {
        if (err instanceof IngestRejectedError) throw new AppError('BAD_REQUEST', err.message);
        // Some entries may be queued: a retry of the same request is harmless (same ids).
        throw new AppError('UNAVAILABLE', 'ingest queue unavailable; retry the same request later');
      }
      const result = { deviceId: device.id, entries: history.entries, from: history.first, through: history.last };
      await withTransaction(app.pg, async (tx) => {
        await recordFirstReport(tx, device.id, history.first);
        await app.audit(
          req,
          { action: 'device.history.import', entityType: 'device', entityId: device.id, after: result },
          tx,
        );
      });
      let stored = false;
      if (req.query.wait) {
        const deadline = Date.now() + WAIT_LIMIT_MS;
        for (;;) {
          stored = await isStored(app.pg, device.id, history.last);
          if (stored || Date.now() >= deadline) break;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      return reply.status(202).send({ ...result, stored });
    },
  );

  app.get(
    '/:idOrName/telemetry/stored',
    {
      schema: {
        params: DeviceParams,
        querystring: Type.Object({ ts: Type.Integer({ description: 'an entry ts of a posted request' }) }),
        response: { 200: Type.Object({ stored: Type.Boolean() }), ...errorResponses },
      },
    },
    async (req) => {
      const device = await registry.get(req.params.idOrName, req.principal?.scope ?? null);
      return { stored: await isStored(app.pg, device.id, req.query.ts) };
    },
  );

  app.get(
    '/:idOrName/telemetry/import-progress',
    { schema: { params: DeviceParams, response: { 200: Progress, ...errorResponses } } },
    async (req) => {
      const device = await registry.get(req.params.idOrName, req.principal?.scope ?? null);
      return readImportProgress(app.pg, device.id);
    },
  );

  app.put(
    '/:idOrName/telemetry/import-progress',
    { schema: { params: DeviceParams, body: ProgressBody, response: { 200: Progress, ...errorResponses } } },
    async (req) => {
      const device = await registry.get(req.params.idOrName, req.principal?.scope ?? null);
      return withTransaction(app.pg, async (tx) => {
        const before = await readImportProgress(tx, device.id);
        await saveImportProgress(tx, device.id, req.body);
        await app.audit(
          req,
          {
            action: 'device.history.progress',
            entityType: 'device',
            entityId: device.id,
            before: { source: before.source, from: before.from, through: before.through },
            after: req.body,
          },
          tx,
        );
        return readImportProgress(tx, device.id);
      });
    },
  );
};

export default historyRoutes;
