/**
 * /api/api-keys: admins create (key shown once), list and revoke long-lived API keys for
 * scripts. A key may be owned by a user (default: the signed-in admin creating it) and
 * limited to a role and a scope; it never acts above its owner.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { Type } from 'typebox';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { notifyAccessChange } from '../stream/live.js';
import { Role, scopeProps } from '../users/schemas.js';
import { ApiKeyService } from './api-key-service.js';

const apiKeyProps = {
  id: Type.String(),
  name: Type.String(),
  role: Role,
  userId: Type.Union([Type.String(), Type.Null()], { description: 'owner; the key acts with at most their role' }),
  username: Type.Union([Type.String(), Type.Null()]),
  regions: Type.Union([Type.Array(Type.String()), Type.Null()]),
  customers: Type.Union([Type.Array(Type.String()), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
};
const ApiKey = Type.Object(apiKeyProps);
const CreatedApiKey = Type.Object({
  ...apiKeyProps,
  key: Type.String({ description: 'the key itself: shown only in this response' }),
});
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    role: Type.Optional(Role),
    userId: Type.Optional(
      Type.Unsafe<string | null>({
        type: ['string', 'null'],
        format: 'uuid',
        description: 'owner; omitted = the signed-in caller, null = no owner',
      }),
    ),
    ...scopeProps,
  },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String() });
const ListQuery = Type.Object(
  { userId: Type.Optional(Type.String({ format: 'uuid' })) },
  { additionalProperties: false },
);

const apiKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const keys = new ApiKeyService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => requireRole(req, 'admin'));
  app.post(
    '/',
    { schema: { body: CreateBody, response: { 201: CreatedApiKey, ...errorResponses } } },
    async (req, reply) => {
      const created = await withTransaction(app.pg, async (tx) => {
        const created = await keys.inTransaction(tx).create(req.body, req.principal);
        const { key: _secret, ...after } = created;
        await app.audit(req, { action: 'api-key.create', entityType: 'api-key', entityId: created.id, after }, tx);
        return created;
      });
      return reply.status(201).send(created);
    },
  );
  app.get(
    '/',
    { schema: { querystring: ListQuery, response: { 200: Type.Array(ApiKey), ...errorResponses } } },
    async (req) => keys.list(req.query),
  );
  app.delete('/:id', { schema: { params: Params, response: { 200: ApiKey, ...errorResponses } } }, async (req) => {
    const after = await withTransaction(app.pg, async (tx) => {
      const { before, after } = await keys.inTransaction(tx).revoke(req.params.id);
      if (before.revokedAt === null)
        await app.audit(
          req,
          { action: 'api-key.revoke', entityType: 'api-key', entityId: after.id, before, after },
          tx,
        );
      return after;
    });
    // Open streams of the key end now (they also re-check on their own within SSE_RECHECK_MS).
    await notifyAccessChange(app.redis, app.config.REDIS_PREFIX, `api-key:${after.id}`);
    return after;
  });
};

export default apiKeyRoutes;
