/** /api/recipients: who gets alert texts (reads: any role; edits: operator). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { requireRole } from '../../plugins/auth.js';
import { RecipientService } from '../../services/recipients.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { CreateRecipientBody, Recipient, RecipientList, RecipientParams, UpdateRecipientBody } from './schemas.js';

const recipientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const recipients = new RecipientService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
  });
  const scopeOf = (req: { principal?: { scope: import('../../plugins/auth.js').Scope | null } }) =>
    req.principal?.scope ?? null;

  app.get('/', { schema: { response: { 200: RecipientList, ...errorResponses } } }, async (req) => ({
    items: await recipients.list(scopeOf(req)),
  }));
  app.get(
    '/:id',
    { schema: { params: RecipientParams, response: { 200: Recipient, ...errorResponses } } },
    async (req) => recipients.get(scopeOf(req), req.params.id),
  );
  app.post(
    '/',
    { schema: { body: CreateRecipientBody, response: { 201: Recipient, ...errorResponses } } },
    async (req, reply) => {
      const after = await withTransaction(app.pg, async (tx) => {
        const after = await recipients.inTransaction(tx).create(scopeOf(req), req.body);
        await app.audit(req, { action: 'recipient.create', entityType: 'recipient', entityId: after.id, after }, tx);
        return after;
      });
      return reply.status(201).send(after);
    },
  );
  app.patch(
    '/:id',
    { schema: { params: RecipientParams, body: UpdateRecipientBody, response: { 200: Recipient, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const service = recipients.inTransaction(tx);
        const before = await service.get(scopeOf(req), req.params.id);
        const after = await service.update(scopeOf(req), req.params.id, req.body);
        await app.audit(
          req,
          { action: 'recipient.update', entityType: 'recipient', entityId: after.id, before, after },
          tx,
        );
        return after;
      }),
  );
  app.delete(
    '/:id',
    { schema: { params: RecipientParams, response: { 200: Recipient, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const before = await recipients.inTransaction(tx).remove(scopeOf(req), req.params.id);
        await app.audit(req, { action: 'recipient.delete', entityType: 'recipient', entityId: before.id, before }, tx);
        return before;
      }),
  );
};

export default recipientRoutes;
