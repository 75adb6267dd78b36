/**
 * /api/recipient-groups (on-call rosters) and /api/escalation-policies: admins write (audited
 * with the change, in one transaction); operators read what lies inside their scope.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type PoolClient, withTransaction } from '@spms/db';
import type { FastifyRequest } from 'fastify';
import type { Static, TSchema } from 'typebox';
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

/** A resource's reads and writes as the routes call them (a service, outside or inside a transaction). */
interface CrudOps<T, C, U> {
  list(scope: Scope | null): Promise<T[]>;
  get(scope: Scope | null, id: string): Promise<T>;
  create(scope: Scope | null, body: C): Promise<T>;
  update(scope: Scope | null, id: string, body: U): Promise<T>;
  remove(scope: Scope | null, id: string): Promise<T>;
}

/**
 * GET / and /:id, POST /, PATCH /:id, DELETE /:id of one resource: operators read inside
 * their scope, admins write; every write and its audit entry (`${entity}.create` …) commit
 * in one transaction. `ops(tx)` gives the resource's operations on that transaction, `ops()`
 * on the pool.
 */
function auditedCrudRoutes<T extends { id: string }, C extends TSchema, U extends TSchema>(
  app: Parameters<FastifyPluginAsyncTypebox>[0],
  entity: string,
  schemas: { item: TSchema; list: TSchema; create: C; update: U },
  ops: (tx?: PoolClient) => CrudOps<T, Static<C>, Static<U>>,
): void {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', guard);
  const { item, list, create, update } = schemas;

  app.get('/', { schema: { response: { 200: list, ...errorResponses } } }, async (req) => ({
    items: await ops().list(scopeOf(req)),
  }));
  app.get('/:id', { schema: { params: IdParams, response: { 200: item, ...errorResponses } } }, async (req) =>
    ops().get(scopeOf(req), req.params.id),
  );
  app.post('/', { schema: { body: create, response: { 201: item, ...errorResponses } } }, async (req, reply) => {
    const after = await withTransaction(app.pg, async (tx) => {
      // The body passed `create`; the type provider cannot resolve Static<C> for a generic C.
      const after = await ops(tx).create(scopeOf(req), req.body as Static<C>);
      await app.audit(req, { action: `${entity}.create`, entityType: entity, entityId: after.id, after }, tx);
      return after;
    });
    return reply.status(201).send(after);
  });
  app.patch(
    '/:id',
    { schema: { params: IdParams, body: update, response: { 200: item, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const s = ops(tx);
        const before = await s.get(scopeOf(req), req.params.id);
        const after = await s.update(scopeOf(req), req.params.id, req.body as Static<U>);
        await app.audit(req, { action: `${entity}.update`, entityType: entity, entityId: after.id, before, after }, tx);
        return after;
      }),
  );
  app.delete('/:id', { schema: { params: IdParams, response: { 200: item, ...errorResponses } } }, async (req) =>
    withTransaction(app.pg, async (tx) => {
      const before = await ops(tx).remove(scopeOf(req), req.params.id);
      await app.audit(req, { action: `${entity}.delete`, entityType: entity, entityId: before.id, before }, tx);
      return before;
    }),
  );
}

export const recipientGroupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new RecipientGroupService(app.pg);
  auditedCrudRoutes(
    app,
    'recipient_group',
    { item: Group, list: GroupList, create: CreateGroupBody, update: UpdateGroupBody },
    (tx) => {
      const s = tx ? service.inTransaction(tx) : service;
      return {
        list: (scope) => s.listGroups(scope),
        get: (scope, id) => s.getGroup(scope, id),
        create: (scope, body) => s.createGroup(scope, body),
        update: (scope, id, body) => s.updateGroup(scope, id, body),
        remove: (scope, id) => s.removeGroup(scope, id),
      };
    },
  );
};

export const escalationPolicyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = new EscalationPolicyService(app.pg);
  auditedCrudRoutes(
    app,
    'escalation_policy',
    { item: Policy, list: PolicyList, create: CreatePolicyBody, update: UpdatePolicyBody },
    (tx) => {
      const s = tx ? service.inTransaction(tx) : service;
      return {
        list: (scope) => s.listPolicies(scope),
        get: (scope, id) => s.getPolicy(scope, id),
        create: (scope, body) => s.createPolicy(scope, body),
        update: (scope, id, body) => s.updatePolicy(scope, id, body),
        remove: (scope, id) => s.removePolicy(scope, id),
      };
    },
  );
};
