/** /api/recipients: who gets alert texts and e-mails (reads: any role; edits: operator). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { emailWarning, readEmailSenders } from '../health/email-senders.js';
import { RecipientService, type RecipientView } from './recipients.js';
import { CreateRecipientBody, Recipient, RecipientList, RecipientParams, UpdateRecipientBody } from './schemas.js';

const recipientRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const recipients = new RecipientService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
  });
  // Whether e-mail goes out (the workers' heartbeats), read at most every few seconds.
  let mode: { at: number; warning: Promise<string | null> } | undefined;
  const warnings = async <T extends RecipientView>(r: T): Promise<T & { warnings: string[] }> => {
    if (r.channel === 'sms') return { ...r, warnings: [] };
    if (!mode || Date.now() - mode.at > 5000) {
      const warning = readEmailSenders(app.redis, app.config.REDIS_PREFIX).then((s) => emailWarning(s.mode));
      mode = { at: Date.now(), warning };
      warning.catch(() => {
        mode = undefined;
      });
    }
    const w = await mode.warning.catch(() => null);
    return { ...r, warnings: w ? [w] : [] };
  };
  const scopeOf = (req: { principal?: { scope: import('../../core/principal.js').Scope | null } }) =>
    req.principal?.scope ?? null;

  app.get('/', { schema: { response: { 200: RecipientList, ...errorResponses } } }, async (req) => ({
    items: await Promise.all((await recipients.list(scopeOf(req))).map(warnings)),
  }));
  app.get(
    '/:id',
    { schema: { params: RecipientParams, response: { 200: Recipient, ...errorResponses } } },
    async (req) => warnings(await recipients.get(scopeOf(req), req.params.id)),
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
      return reply.status(201).send(await warnings(after));
    },
  );
  app.patch(
    '/:id',
    { schema: { params: RecipientParams, body: UpdateRecipientBody, response: { 200: Recipient, ...errorResponses } } },
    async (req) => {
      const after = await withTransaction(app.pg, async (tx) => {
        const service = recipients.inTransaction(tx);
        const before = await service.get(scopeOf(req), req.params.id);
        const after = await service.update(scopeOf(req), req.params.id, req.body);
        await app.audit(
          req,
          { action: 'recipient.update', entityType: 'recipient', entityId: after.id, before, after },
          tx,
        );
        return after;
      });
      return warnings(after);
    },
  );
  app.delete(
    '/:id',
    { schema: { params: RecipientParams, response: { 200: Recipient, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const before = await recipients.inTransaction(tx).remove(scopeOf(req), req.params.id);
        await app.audit(req, { action: 'recipient.delete', entityType: 'recipient', entityId: before.id, before }, tx);
        return { ...before, warnings: [] };
      }),
  );
};

export default recipientRoutes;
