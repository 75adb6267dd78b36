/**
 * /api/firmware: firmware images for updates over the air (docs/firmware.md).
 * - `POST /?title=&version=&checksumAlgorithm=&checksum=[&description=]` with the image as
 *   the `application/octet-stream` body (admin): streamed into a PostgreSQL large object and
 *   verified on the way, 201; 400 checksum mismatch, 409 title+version exists, 413 over
 *   FIRMWARE_MAX_BYTES. Nothing is stored unless all of it is right.
 * - `GET /` (list, paged), `GET /:id` (with where it is assigned): every role;
 * - `GET /:id/image` the image, streamed (operator);
 * - `DELETE /:id` (admin): 409 while a device, a profile or an unfinished rollout uses it.
 * Firmware is fleet-wide (not scoped); assignment counts show only devices in your scope,
 * and `activeRollouts` only the rollouts you can see (routes/rollouts/targets.ts).
 * Assignment itself: PATCH /api/devices/{idOrName} or /api/profiles/{idOrName} with
 * `{"firmwareId"}`; staged rollouts: /api/rollouts.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  deleteFirmware,
  FIRMWARE_COLUMNS,
  FirmwareError,
  type FirmwareRecord,
  type FirmwareRow,
  readImage,
  toFirmwareRecord,
  uploadFirmware,
} from '@spms/firmware';
import type { FastifyRequest } from 'fastify';
import { AppError, type AppErrorCode } from '../../core/errors.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import { requireRole } from '../../plugins/auth.js';
import { ErrorBody, errorResponses, formatSchemaErrors } from '../error-schema.js';
import { visibleCondition } from '../rollouts/targets.js';
import {
  Firmware,
  FirmwareDetail,
  FirmwareList,
  FirmwareParams,
  ImageBody,
  ImageReply,
  ListQuery,
  UploadQuery,
} from './schemas.js';

const STATUS_OF: Record<FirmwareError['code'], AppErrorCode> = {
  INVALID: 'BAD_REQUEST',
  CHECKSUM_MISMATCH: 'BAD_REQUEST',
  TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  DUPLICATE: 'CONFLICT',
  NOT_FOUND: 'NOT_FOUND',
  IN_USE: 'CONFLICT',
};

const toAppError = (err: unknown): unknown =>
  err instanceof FirmwareError ? new AppError(STATUS_OF[err.code], err.message, err.details) : err;

export const firmwareView = (f: FirmwareRecord) => ({
  id: f.id,
  title: f.title,
  version: f.version,
  size: f.size,
  checksum: f.checksum,
  checksumAlgorithm: f.checksumAlgorithm,
  sha256: f.sha256,
  description: f.description,
  createdBy: f.createdBy,
  createdAt: f.createdAt.toISOString(),
});

/** A file name safe in a Content-Disposition header. */
const fileName = (f: { title: string; version: string }) =>
  `${f.title}-${f.version}.bin`.replace(/[^A-Za-z0-9._-]/g, '_');

const firmwareRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const maxBytes = app.config.FIRMWARE_MAX_BYTES;
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  // This scope only: the body is handed over as the request's stream, unread. Every other
  // route keeps the app's parsers and body limit (an octet-stream body there is 415).
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  const find = async (id: string): Promise<FirmwareRecord> => {
    const { rows } = await app.pg.query<FirmwareRow>(`SELECT ${FIRMWARE_COLUMNS} FROM firmware WHERE id = $1`, [id]);
    if (!rows[0]) throw new AppError('NOT_FOUND', `no firmware ${id}`);
    return toFirmwareRecord(rows[0]);
  };

  app.post(
    '/',
    {
      schema: {
        consumes: ['application/octet-stream'],
        querystring: UploadQuery,
        body: ImageBody,
        response: { 201: Firmware, ...errorResponses, 413: ErrorBody },
      },
      onRequest: async (req) => requireRole(req, 'admin'),
    },
    async (req, reply) => {
      const body = req.body as unknown;
      if (!(body instanceof Readable))
        throw new AppError('BAD_REQUEST', 'send the image as the body with Content-Type: application/octet-stream');
      const declared = Number(req.headers['content-length']);
      if (declared > maxBytes) {
        reply.header('connection', 'close');
        throw new AppError(
          'PAYLOAD_TOO_LARGE',
          `image of ${declared} bytes over the limit of ${maxBytes} (FIRMWARE_MAX_BYTES)`,
        );
      }
      const q = req.query;
      try {
        const stored = await uploadFirmware(app.pg, body, {
          title: q.title,
          version: q.version,
          checksumAlgorithm: q.checksumAlgorithm,
          checksum: q.checksum,
          description: q.description ?? null,
          contentType: 'application/octet-stream',
          createdBy: req.principal?.id ?? null,
          maxBytes,
          inTransaction: (tx, fw) =>
            app.audit(
              req,
              { action: 'firmware.upload', entityType: 'firmware', entityId: fw.id, after: firmwareView(fw) },
              tx,
            ),
        });
        return reply.status(201).send(firmwareView(stored));
      } catch (err) {
        // The rest of the body is not read: don't keep the connection for another request.
        if (!body.readableEnded) reply.header('connection', 'close');
        throw toAppError(err);
      }
    },
  );

  app.get(
    '/',
    { schema: { querystring: ListQuery, response: { 200: FirmwareList, ...errorResponses } } },
    async (req) => {
      const { title, limit = 100, offset = 0 } = req.query;
      const { rows } = await app.pg.query<FirmwareRow & { total: string }>(
        `SELECT ${FIRMWARE_COLUMNS}, count(*) OVER ()::text AS total FROM firmware
          WHERE $1::text IS NULL OR title = $1
          ORDER BY title, created_at DESC, version LIMIT $2 OFFSET $3`,
        [title ?? null, limit, offset],
      );
      let total = Number(rows[0]?.total ?? 0);
      if (rows.length === 0 && offset > 0) {
        const c = await app.pg.query('SELECT count(*)::int AS n FROM firmware WHERE $1::text IS NULL OR title = $1', [
          title ?? null,
        ]);
        total = c.rows[0].n;
      }
      return { items: rows.map((r) => firmwareView(toFirmwareRecord(r))), total };
    },
  );

  app.get(
    '/:id',
    { schema: { params: FirmwareParams, response: { 200: FirmwareDetail, ...errorResponses } } },
    async (req) => {
      const fw = await find(req.params.id);
      return { ...firmwareView(fw), assigned: await assignment(req, fw.id) };
    },
  );

  const assignment = async (req: FastifyRequest, id: string) => {
    const p = new SqlParams();
    const fwParam = p.add(id);
    const inScope = scopeCondition(req.principal?.scope ?? null, 'd', p);
    const counts = await app.pg.query<{ devices: number; target_devices: number; rollouts: number }>(
      `SELECT
         (SELECT count(*)::int FROM devices d WHERE d.firmware_id = ${fwParam} AND ${inScope}) AS devices,
         (SELECT count(*)::int FROM devices d JOIN device_profiles pr ON pr.id = d.profile_id
           WHERE COALESCE(d.firmware_id, pr.firmware_id) = ${fwParam} AND ${inScope}) AS target_devices,
         (SELECT count(*)::int FROM firmware_rollouts r WHERE r.firmware_id = ${fwParam}
            AND r.status IN ('running', 'paused') AND ${visibleCondition(req.principal?.scope ?? null, 'r', p)}) AS rollouts`,
      p.values,
    );
    const profiles = await app.pg.query<{ id: string; name: string }>(
      'SELECT id, name FROM device_profiles WHERE firmware_id = $1 ORDER BY name',
      [id],
    );
    const c = counts.rows[0] as { devices: number; target_devices: number; rollouts: number };
    return {
      profiles: profiles.rows,
      devices: c.devices,
      targetDevices: c.target_devices,
      activeRollouts: c.rollouts,
    };
  };

  app.get(
    '/:id/image',
    {
      schema: {
        params: FirmwareParams,
        produces: ['application/octet-stream'],
        response: { 200: ImageReply, ...errorResponses },
      },
      onRequest: async (req) => requireRole(req, 'operator'),
    },
    async (req, reply) => {
      const fw = await find(req.params.id);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', fw.size)
        .header('content-disposition', `attachment; filename="${fileName(fw)}"`)
        .header('x-checksum-sha256', fw.sha256)
        .send(Readable.from(readImage(app.pg, fw.id)));
    },
  );

  app.delete(
    '/:id',
    {
      schema: { params: FirmwareParams, response: { 200: Firmware, ...errorResponses } },
      onRequest: async (req) => requireRole(req, 'admin'),
    },
    async (req) => {
      try {
        const deleted = await deleteFirmware(app.pg, req.params.id, {
          inTransaction: (tx, fw) =>
            app.audit(
              req,
              {
                action: 'firmware.delete',
                entityType: 'firmware',
                entityId: fw.id,
                before: { ...firmwareView(fw), finishedRolloutsDeleted: fw.finishedRolloutsDeleted },
              },
              tx,
            ),
        });
        return firmwareView(deleted);
      } catch (err) {
        throw toAppError(err);
      }
    },
  );
};

export default firmwareRoutes;
