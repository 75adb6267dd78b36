/**
 * ThingsBoard's HTTP device API, write side: telemetry and client attributes.
 * 200 (empty body) only once the message is durably in the ingest queue; 400 with the
 * reason when the message is not valid (packages/telemetry's one definition: syntax, line
 * and voltage values, `ts` from 2000 to receive time + 10 min, size limits); 401 unknown token; 413 over MAX_PAYLOAD_BYTES; 503 queue or registry down.
 */
import type { DeviceIdentity } from '@spms/device-auth';
import { type IngestMessage, IngestRejectedError, newMessageId, type TelemetryValue } from '@spms/queue';
import { acceptAttributes, acceptTelemetry } from '@spms/telemetry';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../core/errors.js';
import { authenticateToken } from './gateway.js';

export interface TokenParams {
  token: string;
}

export const tokenParams = {
  type: 'object',
  properties: { token: { type: 'string', minLength: 1, maxLength: 256 } },
  required: ['token'],
} as const;

/** The raw body as a Buffer (the content-type parser of this scope never interprets it). */
export function rawBody(body: unknown): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.alloc(0);
}

async function enqueue(app: FastifyInstance, msg: IngestMessage, bytes: number): Promise<void> {
  try {
    await app.ingest.enqueue(msg, bytes);
  } catch (err) {
    // This message alone cannot be queued (too big as JSON): the device must fix it.
    if (err instanceof IngestRejectedError) throw new AppError('BAD_REQUEST', err.message);
    // Logged and counted by the producer; the device retries (its firmware backs off).
    throw new AppError('UNAVAILABLE', 'ingest queue unavailable; retry later');
  }
}

function base(device: DeviceIdentity, receivedAt: number) {
  return { id: newMessageId(), deviceId: device.id, receivedAt, transport: 'http' as const };
}

export async function ingestRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Params: TokenParams }>('/:token/telemetry', { schema: { params: tokenParams } }, async (req, reply) => {
    const receivedAt = Date.now();
    const device = await authenticateToken(app, req.params.token);
    const body = rawBody(req.body);
    // The one definition of a valid message (packages/telemetry), as the MQTT gateway applies it.
    const verdict = acceptTelemetry(body, receivedAt);
    if (!verdict.ok) {
      req.log.warn({ deviceId: device.id, reason: verdict.error }, 'device telemetry refused');
      throw new AppError('BAD_REQUEST', verdict.error);
    }
    await enqueue(app, { ...base(device, receivedAt), kind: 'telemetry', entries: verdict.entries }, body.length);
    return reply.status(200).send();
  });

  app.post<{ Params: TokenParams }>('/:token/attributes', { schema: { params: tokenParams } }, async (req, reply) => {
    const receivedAt = Date.now();
    const device = await authenticateToken(app, req.params.token);
    const body = rawBody(req.body);
    const values = parseAttributes(body);
    if (Object.keys(values).length > 0)
      await enqueue(app, { ...base(device, receivedAt), kind: 'attributes', values }, body.length);
    return reply.status(200).send();
  });
}

/** Client attributes: one JSON object (lenient, like telemetry), within the message limits. */
export function parseAttributes(body: Buffer): Record<string, TelemetryValue> {
  const verdict = acceptAttributes(body);
  if (!verdict.ok) throw new AppError('BAD_REQUEST', verdict.error);
  return verdict.values;
}
