/** /api/api-keys: admins create (key shown once), list and revoke operator API keys. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireRole } from '../../plugins/auth.js';
import { ApiKeyService } from '../../services/api-key-service.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';

const Role = Type.Enum(['admin', 'operator', 'viewer']);
const apiKeyProps = {
  id: Type.String(),
  name: Type.String(),
  role: Role,
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
  { name: Type.String({ minLength: 1, maxLength: 100 }), role: Type.Optional(Role) },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String() });

const apiKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const keys = new ApiKeyService(app.prisma);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => requireRole(req, 'admin'));
  app.post(
    '/',
    { schema: { body: CreateBody, response: { 201: CreatedApiKey, ...errorResponses } } },
    async (req, reply) => reply.status(201).send(await keys.create(req.body)),
  );
  app.get('/', { schema: { response: { 200: Type.Array(ApiKey), ...errorResponses } } }, async () => keys.list());
  app.delete('/:id', { schema: { params: Params, response: { 200: ApiKey, ...errorResponses } } }, async (req) =>
    keys.revoke(req.params.id),
  );
};

export default apiKeyRoutes;
