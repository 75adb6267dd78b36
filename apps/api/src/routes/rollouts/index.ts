/**
 * /api/rollouts: staged firmware rollouts (docs/rollouts.md).
 * - `POST /` (operator): a firmware, a scope (region, customer, profile, devices; inside the
 *   caller's own scope: 403 otherwise) or `rollbackOf`, waves of cumulative percentages,
 *   maxConcurrent, failureThreshold, successTimeoutSec → 201 with the plan. 400 bad waves or
 *   an empty scope, 404 unknown firmware, profile or device, 409 a device already in an
 *   unfinished rollout (named).
 * - `GET /`, `GET /:id` (every role): counts, per wave and per device (paged).
 * - `POST /:id/pause|resume|cancel` (operator): idempotent, 409 once finished.
 * A scoped caller sees a rollout only when all its devices are in their scope. Every step is
 * audited (the controller's automatic ones as the system).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Principal } from '../../core/principal.js';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { CreateBody, DetailQuery, ListQuery, Params, RolloutDetail, RolloutSummary } from './schemas.js';
import { changeStatus, createRollout, getRollout, listRollouts, type RolloutAction, summaryOf } from './store.js';

const rolloutRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
  });
  const scopeOf = (req: FastifyRequest) => req.principal?.scope ?? null;
  const principal = (req: FastifyRequest) => req.principal as Principal;

  app.get(
    '/',
    {
      schema: {
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(RolloutSummary), total: Type.Integer() }), ...errorResponses },
      },
    },
    async (req) => listRollouts(app.pg, req.query, scopeOf(req)),
  );

  app.get(
    '/:id',
    { schema: { params: Params, querystring: DetailQuery, response: { 200: RolloutDetail, ...errorResponses } } },
    async (req) => getRollout(app.pg, req.params.id, req.query, scopeOf(req)),
  );

  app.post(
    '/',
    { schema: { body: CreateBody, response: { 201: RolloutDetail, ...errorResponses } } },
    async (req, reply) => {
      const id = await withTransaction(app.pg, async (tx) => {
        const id = await createRollout(tx, req.body, principal(req));
        const plan = await getRollout(tx, id, { limit: 0 }, null);
        await app.audit(
          req,
          {
            action: 'rollout.create',
            entityType: 'rollout',
            entityId: id,
            after: { ...plan, perDevice: undefined },
          },
          tx,
        );
        return id;
      });
      return reply.status(201).send(await getRollout(app.pg, id, {}, scopeOf(req)));
    },
  );

  for (const action of ['pause', 'resume', 'cancel'] as RolloutAction[])
    app.post(
      `/:id/${action}`,
      { schema: { params: Params, response: { 200: RolloutSummary, ...errorResponses } } },
      async (req) => {
        await withTransaction(app.pg, async (tx) => {
          const change = await changeStatus(tx, req.params.id, action, principal(req));
          if (change.changed)
            await app.audit(
              req,
              {
                action: `rollout.${action}`,
                entityType: 'rollout',
                entityId: req.params.id,
                before: { status: change.before },
                after: { status: change.after },
              },
              tx,
            );
        });
        return summaryOf(app.pg, req.params.id, scopeOf(req));
      },
    );
};

export default rolloutRoutes;
