/** POST /api/devices/import — a fleet from CSV (Content-Type: text/csv), all or nothing. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { errorResponses } from '../error-schema.js';
import { importDevicesCsv } from './csv-import.js';
import { ImportQuery, ImportResult } from './schemas.js';

const IMPORT_BODY_LIMIT = 10 * 1024 * 1024;

const importRoute: FastifyPluginAsyncTypebox = async (app) => {
  // Encapsulated: only this plugin accepts CSV bodies.
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  app.post(
    '/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        querystring: ImportQuery,
        body: Type.String({ description: 'CSV text, header row first' }),
        response: { 200: ImportResult, 201: ImportResult, ...errorResponses },
      },
    },
    async (req, reply) => {
      if (typeof req.body !== 'string' || !/^text\/csv\b/i.test(req.headers['content-type'] ?? ''))
        throw new AppError('BAD_REQUEST', 'send the CSV with `Content-Type: text/csv`');
      const result = await importDevicesCsv(app.prisma, req.body, {
        dryRun: req.query.dryRun ?? false,
        scope: req.principal?.scope ?? null,
        maxRows: app.config.IMPORT_MAX_ROWS,
        maxSuppliedPasswords: app.config.IMPORT_MAX_SUPPLIED_PASSWORDS,
        // One entry for the whole import (ids and names; issued secrets are redacted).
        audit: app.auditing(req, (done) => ({
          action: 'device.import',
          entityType: 'device',
          after: {
            count: done.count,
            devices: done.devices.map(({ id, name, profile }) => ({ id, name, profile })),
          },
        })),
      });
      return reply.status(result.dryRun ? 200 : 201).send(result);
    },
  );
};

export default importRoute;
