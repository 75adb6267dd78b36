/**
 * ThingsBoard's HTTP firmware download: `GET /:token/firmware?title=&version=&size=&chunk=`.
 * `title` and `version` must be the device's target (its own firmware, else its profile's;
 * told to it as the fw_* shared attributes), so a token reads only the image meant for its
 * device. `size` is the chunk size and `chunk` its index: the answer is bytes
 * [chunk × size, +size), shorter at the end. Without `size` (or 0) the whole image comes
 * back, streamed from the large object, as ThingsBoard answers it.
 *
 * The chunk just past the end is an empty 200, as ThingsBoard answers it (a client that
 * does not use fw_size reads until it gets one, as over MQTT).
 *
 * Differences from ThingsBoard, on purpose: any chunk further out is 400 with a message
 * saying which chunks exist (ThingsBoard answers an empty body to any index); a
 * title/version that is not the target is 404 with a message (ThingsBoard: 400, or 404
 * when there is no target, without a body); `size` is capped at FW_CHUNK_MAX_BYTES (400
 * beyond) so one request cannot make the server read a large block at once.
 */
import { Readable } from 'node:stream';
import { readChunk, readImage, targetFirmware } from '@spms/firmware';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import { authenticateToken } from './gateway.js';
import { type TokenParams, tokenParams } from './ingest-routes.js';

interface FirmwareQuery {
  title: string;
  version: string;
  size?: number;
  chunk?: number;
}

/** A file name safe in a Content-Disposition header. */
const fileName = (f: { title: string; version: string }) =>
  `${f.title}-${f.version}.bin`.replace(/[^A-Za-z0-9._-]/g, '_');

export async function firmwareRoutes(app: FastifyInstance): Promise<void> {
  const maxChunk = app.config.FW_CHUNK_MAX_BYTES;

  app.get<{ Params: TokenParams; Querystring: FirmwareQuery }>(
    '/:token/firmware',
    {
      schema: {
        params: tokenParams,
        querystring: {
          type: 'object',
          properties: {
            title: { type: 'string', minLength: 1, maxLength: 255, description: 'fw_title of the target' },
            version: { type: 'string', minLength: 1, maxLength: 255, description: 'fw_version of the target' },
            size: { type: 'integer', minimum: 0, description: 'chunk size in bytes; 0 or absent: the whole image' },
            chunk: { type: 'integer', minimum: 0, description: 'chunk index from 0 (default 0)' },
          },
          required: ['title', 'version'],
        },
      },
    },
    async (req, reply) => {
      const device = await authenticateToken(app, req.params.token);
      const { title, version } = req.query;
      const size = req.query.size ?? 0;
      const chunk = req.query.chunk ?? 0;
      if (size > maxChunk)
        throw new AppError('BAD_REQUEST', `size: at most ${maxChunk} bytes per chunk (FW_CHUNK_MAX_BYTES)`);
      const target = await targetFirmware(app.pg, device.id);
      if (!target) throw new AppError('NOT_FOUND', 'no firmware is assigned to this device');
      if (target.title !== title || target.version !== version)
        throw new AppError(
          'NOT_FOUND',
          `firmware "${title}" "${version}" is not this device's target (fw_title and fw_version say which is)`,
        );
      reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${fileName(target)}"`)
        .header('x-filename', fileName(target));
      if (size === 0) {
        reply.header('content-length', target.size);
        return reply.send(Readable.from(readImage(app.pg, target.id)));
      }
      const chunks = Math.ceil(target.size / size);
      if (chunk > chunks)
        throw new AppError(
          'BAD_REQUEST',
          `chunk: ${chunk} is out of range; the image of ${target.size} bytes has chunks 0..${chunks - 1} of ${size} bytes (${chunks}: empty, the end)`,
        );
      const data = await readChunk(app.pg, target.id, chunk, size);
      if (!data) throw new AppError('NOT_FOUND', 'no firmware is assigned to this device');
      return reply.send(data);
    },
  );
}
