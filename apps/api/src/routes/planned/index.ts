/**
 * /api/planned: planned interruptions (scheduled power cuts) for a region or one device.
 * Everyone reads what their scope shows; operators and admins create, change and delete.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { PlannedService } from './planned.js';

const NullableString = (opts: Record<string, unknown>) =>
  Type.Unsafe<string | null>({ ...opts, type: ['string', 'null'] });
const target = {
  region: Type.Optional(NullableString({ minLength: 1, maxLength: 200, description: 'a region (or give device)' })),
  device: Type.Optional(
    NullableString({ minLength: 1, maxLength: 200, description: 'a device id or name (or give region)' }),
  ),
};
const Time = (description: string) => Type.String({ format: 'date-time', description });

const Planned = Type.Object({
  id: Type.String({ format: 'uuid' }),
  region: Type.Union([Type.String(), Type.Null()]),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  deviceName: Type.Union([Type.String(), Type.Null()]),
  startsAt: Type.String({ format: 'date-time' }),
  endsAt: Type.String({ format: 'date-time' }),
  reason: Type.String(),
  createdBy: Type.String({ description: 'user id, or the API key that declared it' }),
  createdAt: Type.String({ format: 'date-time' }),
});
const CreateBody = Type.Object(
  {
    ...target,
    startsAt: Time('start of the window (with offset, e.g. 2026-11-28T09:00:00+05:30)'),
    endsAt: Time('end of the window'),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  {
    ...target,
    startsAt: Type.Optional(Time('start of the window')),
    endsAt: Type.Optional(Time('end of the window')),
    reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object(
  {
    region: Type.Optional(Type.String({ maxLength: 200 })),
    device: Type.Optional(Type.String({ maxLength: 200 })),
    from: Type.Optional(Time('windows ending after this')),
    to: Type.Optional(Time('windows starting before this')),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ maxLength: 100 }) });

const plannedRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const planned = new PlannedService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
  });
  const scopeOf = (req: FastifyRequest) => req.principal?.scope ?? null;

  app.get(
    '/',
    {
      schema: {
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(Planned), total: Type.Integer() }), ...errorResponses },
      },
    },
    async (req) => planned.list(req.query, scopeOf(req)),
  );
  app.get('/:id', { schema: { params: Params, response: { 200: Planned, ...errorResponses } } }, async (req) =>
    planned.get(req.params.id, scopeOf(req)),
  );
  app.post('/', { schema: { body: CreateBody, response: { 201: Planned, ...errorResponses } } }, async (req, reply) => {
    const after = await withTransaction(app.pg, async (tx) => {
      const after = await planned
        .inTransaction(tx)
        .create(req.body, req.principal as NonNullable<typeof req.principal>);
      await app.audit(req, { action: 'planned.create', entityType: 'planned', entityId: after.id, after }, tx);
      return after;
    });
    return reply.status(201).send(after);
  });
  app.patch(
    '/:id',
    { schema: { params: Params, body: UpdateBody, response: { 200: Planned, ...errorResponses } } },
    async (req) => {
      const { after } = await withTransaction(app.pg, async (tx) => {
        const { before, after } = await planned.inTransaction(tx).update(req.params.id, req.body, scopeOf(req));
        await app.audit(
          req,
          { action: 'planned.update', entityType: 'planned', entityId: after.id, before, after },
          tx,
        );
        return { after };
      });
      return after;
    },
  );
  app.delete('/:id', { schema: { params: Params, response: { 200: Planned, ...errorResponses } } }, async (req) => {
    const before = await withTransaction(app.pg, async (tx) => {
      const before = await planned.inTransaction(tx).remove(req.params.id, scopeOf(req));
      await app.audit(req, { action: 'planned.delete', entityType: 'planned', entityId: before.id, before }, tx);
      return before;
    });
    return before;
  });
};

export default plannedRoutes;
