/** /api/recipients: who gets alert texts (reads: any role; edits: operator). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
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
    async (req, reply) => reply.status(201).send(await recipients.create(scopeOf(req), req.body)),
  );
  app.patch(
    '/:id',
    { schema: { params: RecipientParams, body: UpdateRecipientBody, response: { 200: Recipient, ...errorResponses } } },
    async (req) => recipients.update(scopeOf(req), req.params.id, req.body),
  );
  app.delete(
    '/:id',
    { schema: { params: RecipientParams, response: { 200: Recipient, ...errorResponses } } },
    async (req) => recipients.remove(scopeOf(req), req.params.id),
  );
};

export default recipientRoutes;
