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
 *
 * Downloads take the same download slots as the brokers' MQTT ones (@spms/queue
 * download-slots.ts, shared through Redis), so FW_MAX_CONCURRENT_DOWNLOADS devices at most
 * download at once whichever transport they use. A device takes a slot with its first chunk
 * and frees it with its last (or the chunk past the end, or the whole image sent), else
 * after FW_DOWNLOAD_IDLE_MS of silence. A request that gets no slot is held, first come first
 * served, up to FW_ADMISSION_WAIT_MS; then, unlike MQTT, HTTP can say "later": 503 with
 * Retry-After, soon enough for the device to keep its place in the line.
 */
import { Readable } from 'node:stream';
import { readChunk, readImage, targetFirmware } from '@spms/firmware';
import type { Logger } from '@spms/log';
import { createDownloadSlots, WAITER_STALE_MS } from '@spms/queue';
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

/** Seconds a device told 503 should wait: well within WAITER_STALE_MS, so it keeps its place in line. */
const RETRY_AFTER_S = Math.max(1, Math.floor(WAITER_STALE_MS / 4000));

export async function firmwareRoutes(app: FastifyInstance): Promise<void> {
  const maxChunk = app.config.FW_CHUNK_MAX_BYTES;
  const slots = createDownloadSlots(app.redis, {
    prefix: app.config.REDIS_PREFIX,
    max: app.config.FW_MAX_CONCURRENT_DOWNLOADS,
    idleMs: app.config.FW_DOWNLOAD_IDLE_MS,
    maxHoldMs: app.config.FW_SLOT_MAX_MS,
    waitMs: app.config.FW_ADMISSION_WAIT_MS,
    logger: app.log.child({ component: 'firmware' }) as unknown as Logger,
  });
  app.addHook('onClose', async () => slots.close());

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
      const chunks = size === 0 ? 1 : Math.ceil(target.size / size);
      if (size > 0 && chunk > chunks)
        throw new AppError(
          'BAD_REQUEST',
          `chunk: ${chunk} is out of range; the image of ${target.size} bytes has chunks 0..${chunks - 1} of ${size} bytes (${chunks}: empty, the end)`,
        );
      // Checked first: a request that is refused anyway never waits for (or takes) a slot.
      const admitted = await slots.admit(device.id, () => req.raw.socket?.destroyed ?? false);
      if (admitted !== 'admitted') {
        // Flow control, not a fault: answered here, not logged as a server error (download-slots.ts warns if Redis is away).
        if (admitted === 'timeout')
          req.log.info({ deviceId: device.id, chunk }, 'firmware request not admitted in time');
        return reply
          .status(503)
          .header('retry-after', String(RETRY_AFTER_S))
          .send({
            error: 'UNAVAILABLE',
            message:
              admitted === 'unavailable'
                ? 'firmware download slots unavailable; retry later'
                : `firmware downloads are at their limit (FW_MAX_CONCURRENT_DOWNLOADS); retry in ${RETRY_AFTER_S} s`,
          });
      }
      reply
        .header('content-type', 'application/octet-stream')
        .header('content-disposition', `attachment; filename="${fileName(target)}"`)
        .header('x-filename', fileName(target));
      if (size === 0) {
        // The whole image sent: the device is done (a broken-off stream frees the slot when idle).
        reply.raw.once('finish', () => void slots.release(device.id));
        reply.header('content-length', target.size);
        return reply.send(Readable.from(readImage(app.pg, target.id)));
      }
      const data = await readChunk(app.pg, target.id, chunk, size);
      if (!data) throw new AppError('NOT_FOUND', 'no firmware is assigned to this device');
      // The last chunk (or the one past the end): the device is done downloading.
      if (chunk * size + data.length >= target.size) await slots.release(device.id);
      return reply.send(data);
    },
  );
}
