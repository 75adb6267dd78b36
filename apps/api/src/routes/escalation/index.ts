/**
 * /api/recipient-groups (on-call rosters) and /api/escalation-policies: admins write (audited
 * with the change, in one transaction); operators read what lies inside their scope.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import type { FastifyRequest } from 'fastify';
import type { Scope } from '../../core/principal.js';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { EscalationPolicyService } from './escalation.js';
import { RecipientGroupService } from './recipient-groups.js';
import {
  CreateGroupBody,
  CreatePolicyBody,
  Group,
  GroupList,
  IdParams,
  Policy,
  PolicyList,
  UpdateGroupBody,
  UpdatePolicyBody,
} from './schemas.js';

const scopeOf = (req: { principal?: { scope: Scope | null } }) => req.principal?.scope ?? null;

const guard = async (req: FastifyRequest) => {
  requireRole(req, req.method === 'GET' || req.method === 'HEAD' ? 'operator' : 'admin');
};

export const recipientGroupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new RecipientGroupService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', guard);
  const entity = 'recipient_group';

  app.get('/', { schema: { response: { 200: GroupList, ...errorResponses } } }, async (req) => ({
    items: await service.listGroups(scopeOf(req)),
  }));
  app.get('/:id', { schema: { params: IdParams, response: { 200: Group, ...errorResponses } } }, async (req) =>
    service.getGroup(scopeOf(req), req.params.id),
  );
  app.post(
    '/',
    { schema: { body: CreateGroupBody, response: { 201: Group, ...errorResponses } } },
    async (req, reply) => {
      const after = await withTransaction(app.pg, async (tx) => {
        const after = await service.inTransaction(tx).createGroup(scopeOf(req), req.body);
        await app.audit(req, { action: `${entity}.create`, entityType: entity, entityId: after.id, after }, tx);
        return after;
      });
      return reply.status(201).send(after);
    },
  );
  app.patch(
    '/:id',
    { schema: { params: IdParams, body: UpdateGroupBody, response: { 200: Group, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const s = service.inTransaction(tx);
        const before = await s.getGroup(scopeOf(req), req.params.id);
        const after = await s.updateGroup(scopeOf(req), req.params.id, req.body);
        await app.audit(req, { action: `${entity}.update`, entityType: entity, entityId: after.id, before, after }, tx);
        return after;
      }),
  );
  app.delete('/:id', { schema: { params: IdParams, response: { 200: Group, ...errorResponses } } }, async (req) =>
    withTransaction(app.pg, async (tx) => {
      const before = await service.inTransaction(tx).removeGroup(scopeOf(req), req.params.id);
      await app.audit(req, { action: `${entity}.delete`, entityType: entity, entityId: before.id, before }, tx);
      return before;
    }),
  );
};

export const escalationPolicyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new EscalationPolicyService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', guard);
  const entity = 'escalation_policy';

  app.get('/', { schema: { response: { 200: PolicyList, ...errorResponses } } }, async (req) => ({
    items: await service.listPolicies(scopeOf(req)),
  }));
  app.get('/:id', { schema: { params: IdParams, response: { 200: Policy, ...errorResponses } } }, async (req) =>
    service.getPolicy(scopeOf(req), req.params.id),
  );
  app.post(
    '/',
    { schema: { body: CreatePolicyBody, response: { 201: Policy, ...errorResponses } } },
    async (req, reply) => {
      const after = await withTransaction(app.pg, async (tx) => {
        const after = await service.inTransaction(tx).createPolicy(scopeOf(req), req.body);
        await app.audit(req, { action: `${entity}.create`, entityType: entity, entityId: after.id, after }, tx);
        return after;
      });
      return reply.status(201).send(after);
    },
  );
  app.patch(
    '/:id',
    { schema: { params: IdParams, body: UpdatePolicyBody, response: { 200: Policy, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const s = service.inTransaction(tx);
        const before = await s.getPolicy(scopeOf(req), req.params.id);
        const after = await s.updatePolicy(scopeOf(req), req.params.id, req.body);
        await app.audit(req, { action: `${entity}.update`, entityType: entity, entityId: after.id, before, after }, tx);
        return after;
      }),
  );
  app.delete('/:id', { schema: { params: IdParams, response: { 200: Policy, ...errorResponses } } }, async (req) =>
    withTransaction(app.pg, async (tx) => {
      const before = await service.inTransaction(tx).removePolicy(scopeOf(req), req.params.id);
      await app.audit(req, { action: `${entity}.delete`, entityType: entity, entityId: before.id, before }, tx);
      return before;
    }),
  );
};
