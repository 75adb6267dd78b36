/**
 * ThingsBoard's HTTP device API, write side: telemetry and client attributes.
 * 200 (empty body) only once the message is durably in the ingest queue; 400 with the
 * reason when the message is not valid (packages/telemetry's one definition: syntax, line
 * and voltage values, `ts` from 2000 to receive time + 10 min, size limits); 401 unknown token; 413 over MAX_PAYLOAD_BYTES; 503 queue or registry down.
 */
import { type IngestMessage, IngestRejectedError, newMessageId, type TelemetryValue } from '@spms/queue';
import { acceptAttributes, createDeviceIngress } from '@spms/telemetry';
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

export async function ingestRoutes(app: FastifyInstance): Promise<void> {
  // The one door of both transports (packages/telemetry/src/ingress.ts), as the MQTT broker uses it.
  const ingress = createDeviceIngress({ transport: 'http', newId: newMessageId });

  app.post<{ Params: TokenParams }>('/:token/telemetry', { schema: { params: tokenParams } }, async (req, reply) => {
    const receivedAt = Date.now();
    const device = await authenticateToken(app, req.params.token);
    const body = rawBody(req.body);
    const verdict = ingress.telemetry(device.id, body, receivedAt);
    if (!verdict.ok) {
      req.log.warn({ deviceId: device.id, reason: verdict.error }, 'device telemetry refused');
      throw new AppError('BAD_REQUEST', verdict.error);
    }
    await enqueue(app, verdict.message, body.length);
    return reply.status(200).send();
  });

  app.post<{ Params: TokenParams }>('/:token/attributes', { schema: { params: tokenParams } }, async (req, reply) => {
    const receivedAt = Date.now();
    const device = await authenticateToken(app, req.params.token);
    const body = rawBody(req.body);
    const verdict = ingress.attributes(device.id, body, receivedAt);
    if (!verdict.ok) throw new AppError('BAD_REQUEST', verdict.error);
    // `{}` is answered 200 and not queued (over MQTT it is queued and counts as activity).
    if (Object.keys(verdict.message.values).length > 0) await enqueue(app, verdict.message, body.length);
    return reply.status(200).send();
  });
}

/**
 * An RPC request or answer body: one JSON object (lenient, like telemetry), within the
 * message limits of client attributes — the one validation, with a 400 that says what to fix.
 */
export function parseObjectBody(body: Buffer): Record<string, TelemetryValue> {
  const verdict = acceptAttributes(body);
  if (!verdict.ok) throw new AppError('BAD_REQUEST', verdict.error);
  return verdict.values;
}
