/**
 * ThingsBoard's HTTP device API, write side: telemetry and client attributes.
 * 200 (empty body) only once the message is durably in the ingest queue; 400 with the
 * parser's reason; 401 unknown token; 413 over MAX_PAYLOAD_BYTES; 503 queue or registry down.
 */
import type { DeviceIdentity } from '@spms/device-auth';
import { type IngestMessage, newMessageId, type TelemetryValue } from '@spms/queue';
import { interpretValues, parseLenientJson, parseTelemetry } from '@spms/telemetry';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../plugins/errors.js';
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
  } catch {
    // Logged and counted by the producer; the device retries (its firmware backs off).
    throw new AppError('UNAVAILABLE', 'ingest queue unavailable; retry later');
  }
}

function base(device: DeviceIdentity) {
  return { id: newMessageId(), deviceId: device.id, receivedAt: Date.now(), transport: 'http' as const };
}

export async function ingestRoutes(app: FastifyInstance): Promise<void> {
  app.post<{ Params: TokenParams }>('/:token/telemetry', { schema: { params: tokenParams } }, async (req, reply) => {
    const device = await authenticateToken(app, req.params.token);
    const body = rawBody(req.body);
    const parsed = parseTelemetry(body);
    if (!parsed.ok) throw new AppError('BAD_REQUEST', parsed.error);
    const problems = parsed.entries.flatMap((e) => interpretValues(e.values).problems);
    if (problems.length > 0) throw new AppError('BAD_REQUEST', problems.join('; '));
    await enqueue(app, { ...base(device), kind: 'telemetry', entries: parsed.entries }, body.length);
    return reply.status(200).send();
  });

  app.post<{ Params: TokenParams }>('/:token/attributes', { schema: { params: tokenParams } }, async (req, reply) => {
    const device = await authenticateToken(app, req.params.token);
    const body = rawBody(req.body);
    const values = parseAttributes(body);
    if (Object.keys(values).length > 0)
      await enqueue(app, { ...base(device), kind: 'attributes', values }, body.length);
    return reply.status(200).send();
  });
}

/** Client attributes: one JSON object (lenient, like telemetry). */
export function parseAttributes(body: Buffer): Record<string, TelemetryValue> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new AppError('BAD_REQUEST', 'payload is not valid UTF-8');
  }
  if (text.trim() === '') throw new AppError('BAD_REQUEST', 'payload is empty');
  let doc: unknown;
  try {
    doc = parseLenientJson(text);
  } catch (err) {
    throw new AppError('BAD_REQUEST', `payload is not JSON (even leniently): ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new AppError('BAD_REQUEST', 'attributes must be one JSON object');
  return doc as Record<string, TelemetryValue>;
}
