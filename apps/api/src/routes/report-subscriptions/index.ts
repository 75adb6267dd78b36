/**
 * /api/report-subscriptions: who gets the scheduled reliability report e-mails (reads: any
 * role, within its scope; changes: admin, audited).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { emailWarning, readEmailSenders } from '../health/email-senders.js';
import { ReportSubscriptionService, type ReportSubscriptionView } from './report-subscriptions.js';
import {
  CreateReportSubscriptionBody,
  ReportSubscription,
  ReportSubscriptionList,
  ReportSubscriptionParams,
  ReportSubscriptionQuery,
  UpdateReportSubscriptionBody,
} from './schemas.js';

const reportSubscriptionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const subs = new ReportSubscriptionService(app.pg);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'admin');
  });
  const scopeOf = (req: { principal?: { scope: Scope | null } }) => req.principal?.scope ?? null;
  const warn = async (items: ReportSubscriptionView[]) => {
    const w = items.length > 0 ? emailWarning((await readEmailSenders(app.redis, app.config.REDIS_PREFIX)).mode) : null;
    return items.map((s) => ({ ...s, warnings: w ? [w] : [] }));
  };
  const warnOne = async (s: ReportSubscriptionView) => ({ ...s, warnings: (await warn([s]))[0]?.warnings ?? [] });

  app.get(
    '/',
    { schema: { querystring: ReportSubscriptionQuery, response: { 200: ReportSubscriptionList, ...errorResponses } } },
    async (req) => ({ items: await warn(await subs.list(scopeOf(req), req.query.recipientId)) }),
  );
  app.get(
    '/:id',
    { schema: { params: ReportSubscriptionParams, response: { 200: ReportSubscription, ...errorResponses } } },
    async (req) => warnOne(await subs.get(scopeOf(req), req.params.id)),
  );
  app.post(
    '/',
    { schema: { body: CreateReportSubscriptionBody, response: { 201: ReportSubscription, ...errorResponses } } },
    async (req, reply) => {
      const after = await withTransaction(app.pg, async (tx) => {
        const after = await subs.inTransaction(tx).create(scopeOf(req), req.body);
        await app.audit(
          req,
          { action: 'report_subscription.create', entityType: 'report_subscription', entityId: after.id, after },
          tx,
        );
        return after;
      });
      return reply.status(201).send(await warnOne(after));
    },
  );
  app.patch(
    '/:id',
    {
      schema: {
        params: ReportSubscriptionParams,
        body: UpdateReportSubscriptionBody,
        response: { 200: ReportSubscription, ...errorResponses },
      },
    },
    async (req) => {
      const after = await withTransaction(app.pg, async (tx) => {
        const service = subs.inTransaction(tx);
        const before = await service.get(scopeOf(req), req.params.id);
        const after = await service.update(scopeOf(req), req.params.id, req.body);
        await app.audit(
          req,
          {
            action: 'report_subscription.update',
            entityType: 'report_subscription',
            entityId: after.id,
            before,
            after,
          },
          tx,
        );
        return after;
      });
      return warnOne(after);
    },
  );
  app.delete(
    '/:id',
    { schema: { params: ReportSubscriptionParams, response: { 200: ReportSubscription, ...errorResponses } } },
    async (req) =>
      withTransaction(app.pg, async (tx) => {
        const before = await subs.inTransaction(tx).remove(scopeOf(req), req.params.id);
        await app.audit(
          req,
          { action: 'report_subscription.delete', entityType: 'report_subscription', entityId: before.id, before },
          tx,
        );
        return { ...before, warnings: [] };
      }),
  );
};

export default reportSubscriptionRoutes;
