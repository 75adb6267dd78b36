/** GET /api/audit (admin): the audit log, newest first, with filters and cursor pagination. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { listAudit } from './audit.js';

const AuditQuery = Type.Object(
  {
    entityType: Type.Optional(Type.String({ maxLength: 100, description: 'device, user, api-key, profile, planned…' })),
    entityId: Type.Optional(Type.String({ maxLength: 200 })),
    action: Type.Optional(Type.String({ maxLength: 100, description: 'e.g. device.update' })),
    userId: Type.Optional(Type.String({ format: 'uuid' })),
    principalId: Type.Optional(Type.String({ maxLength: 200 })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
    cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);

const AuditItem = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  principalKind: Type.String({ description: 'admin-key, api-key or session' }),
  principalId: Type.String(),
  userId: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  entityType: Type.String(),
  entityId: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown({ description: 'the entity before the change (secrets removed); null on create' }),
  after: Type.Unknown({ description: 'the entity after the change (secrets removed); null on delete' }),
  requestId: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
});

const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => requireRole(req, 'admin'));
  app.get(
    '/',
    {
      schema: {
        querystring: AuditQuery,
        response: {
          200: Type.Object({ items: Type.Array(AuditItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          ...errorResponses,
        },
      },
    },
    async (req) => listAudit(app.pg, req.query),
  );
};

export default auditRoutes;
