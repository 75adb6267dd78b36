/**
 * /api/dead-letters: device messages the worker refused for good (apps/worker/src/dead-letter.ts),
 * in the caller's scope. Operators replay one — re-validated with the current rules
 * (@spms/telemetry) and re-enqueued through the normal ingest path with its original id and
 * receive time, so a replay is idempotent (the worker ignores a message id it already
 * recorded) — or discard it. Both are audited.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import type { Logger } from '@spms/log';
import { createIngestProducer, type IngestMessage, type IngestProducer, IngestRejectedError } from '@spms/queue';
import { validateIngestMessage } from '@spms/telemetry';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { requireRole } from '../../plugins/auth.js';
import { ErrorBody, errorResponses, formatSchemaErrors } from '../error-schema.js';
import { type DeadLetterItem, getDeadLetter, listDeadLetters, setDeadLetterStatus } from './dead-letters.js';
import { DeadLetter, DeadLetterList, DeadLetterParams, DeadLetterQuery } from './schemas.js';

const actionResponses = { 200: DeadLetter, ...errorResponses, 422: ErrorBody, 503: ErrorBody };

const deadLetterRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const scopeOf = (req: { principal?: { scope: Scope | null } }) => req.principal?.scope ?? null;
  const byOf = (req: FastifyRequest) => req.principal?.userId ?? req.principal?.id ?? 'unknown';

  // Opened on the first replay: most API processes never need a queue connection for this.
  let producer: IngestProducer | undefined;
  const ingest = () => {
    producer ??= createIngestProducer({
      redisUrl: app.config.REDIS_URL,
      prefix: app.config.REDIS_PREFIX,
      maxDelayMs: 0,
      logger: app.log.child({ component: 'dead-letter-replay' }) as unknown as Logger,
    });
    return producer;
  };
  app.addHook('onClose', async () => {
    await producer?.close();
  });

  // The status change and its audit entry commit together (one transaction).
  async function resolve(
    req: FastifyRequest,
    before: DeadLetterItem,
    status: 'replayed' | 'discarded',
  ): Promise<DeadLetterItem> {
    await withTransaction(app.pg, async (tx) => {
      await setDeadLetterStatus(tx, before.id, status, byOf(req));
      await app.audit(
        req,
        {
          action: status === 'replayed' ? 'dead_letter.replay' : 'dead_letter.discard',
          entityType: 'dead_letter',
          entityId: before.id,
          before: { status: before.status, messageId: before.messageId, deviceId: before.deviceId },
          after: { status },
        },
        tx,
      );
    });
    return getDeadLetter(app.pg, scopeOf(req), before.id);
  }

  app.get(
    '/',
    { schema: { querystring: DeadLetterQuery, response: { 200: DeadLetterList, ...errorResponses } } },
    async (req) => {
      const { device, status, limit = 100, cursor } = req.query;
      return listDeadLetters(app.pg, scopeOf(req), { device, status }, { cursor, limit });
    },
  );

  app.get(
    '/:id',
    { schema: { params: DeadLetterParams, response: { 200: DeadLetter, ...errorResponses } } },
    async (req) => getDeadLetter(app.pg, scopeOf(req), req.params.id),
  );

  app.post('/:id/replay', { schema: { params: DeadLetterParams, response: actionResponses } }, async (req) => {
    requireRole(req, 'operator');
    const before = await getDeadLetter(app.pg, scopeOf(req), req.params.id);
    if (before.status === 'discarded')
      throw new AppError('CONFLICT', `dead letter ${before.id} was discarded; it cannot be replayed`);
    if (before.messageId === null)
      throw new AppError('UNPROCESSABLE', `a whole-job dead letter cannot be replayed (${before.reason})`);
    // The current rules, against the message's own receive time (as the worker judges it).
    const problem = validateIngestMessage(before.payload);
    if (problem) throw new AppError('UNPROCESSABLE', `still invalid under the current rules: ${problem}`);
    const msg = before.payload as IngestMessage;
    if (msg.id !== before.messageId || msg.deviceId !== before.deviceId)
      throw new AppError('UNPROCESSABLE', 'the stored message does not match its dead letter (id or device)');
    try {
      await ingest().enqueue(msg);
    } catch (err) {
      if (err instanceof IngestRejectedError) throw new AppError('UNPROCESSABLE', err.message);
      throw new AppError('UNAVAILABLE', 'ingest queue unavailable; retry later');
    }
    // Enqueued before the status changes: if what follows fails, a second replay is harmless.
    return resolve(req, before, 'replayed');
  });

  app.post('/:id/discard', { schema: { params: DeadLetterParams, response: actionResponses } }, async (req) => {
    requireRole(req, 'operator');
    const before = await getDeadLetter(app.pg, scopeOf(req), req.params.id);
    return resolve(req, before, 'discarded');
  });
};

export default deadLetterRoutes;
