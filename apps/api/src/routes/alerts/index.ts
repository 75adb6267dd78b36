/**
 * /api/alerts: list and filter (scoped like every read), one alert with its texts and
 * delivery per recipient, and acknowledgement (role operator).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { listNotifications } from '../notifications/notifications.js';
import { getAlertEscalation } from './alert-escalation.js';
import { type AlertView, acknowledgeAlert, getAlert, listAlerts } from './alerts.js';
import { Alert, AlertDetail, AlertList, AlertParams, AlertQuery } from './schemas.js';

const alertRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const scopeOf = (req: { principal?: { scope: import('../../core/principal.js').Scope | null } }) =>
    req.principal?.scope ?? null;

  app.get(
    '/',
    { schema: { querystring: AlertQuery, response: { 200: AlertList, ...errorResponses } } },
    async (req) => ({ items: await listAlerts(app.pg, scopeOf(req), req.query) }),
  );

  app.get(
    '/:id',
    { schema: { params: AlertParams, response: { 200: AlertDetail, ...errorResponses } } },
    async (req) => {
      const alert = await getAlert(app.pg, scopeOf(req), req.params.id);
      // Scoped: a text that also covered other scopes' alerts comes back redacted.
      const notifications = await listNotifications(app.pg, scopeOf(req), { alertId: req.params.id, limit: 1000 });
      // Newest message per recipient and channel (notifications come newest first).
      const seen = new Set<string>();
      const deliveries = notifications
        .filter((n) => {
          const k = `${n.recipientId ?? n.phone ?? n.email ?? `#${n.id}`}/${n.channel}`;
          if (seen.has(k)) return false;
          seen.add(k);
          return true;
        })
        .map((n) => ({
          recipientId: n.recipientId,
          recipientName: n.recipientName,
          phone: n.phone,
          channel: n.channel,
          email: n.email,
          notificationId: n.id,
          status: n.status,
          errorCode: n.errorCode,
          updatedAt: n.updatedAt,
        }));
      // Escalation policy: where it stands and who was told at which tier (or why not).
      const escalation = await getAlertEscalation(app.pg, req.params.id);
      return { ...alert, notifications, deliveries, escalation };
    },
  );

  app.post(
    '/:id/ack',
    { schema: { params: AlertParams, response: { 200: Alert, ...errorResponses } } },
    async (req) => {
      requireRole(req, 'operator');
      const by = req.principal?.userId ?? req.principal?.id ?? 'unknown';
      const audit = app.auditing(req, ({ before, after }: { before: AlertView; after: AlertView }) => {
        const pick = (a: AlertView) => ({
          status: a.status,
          acknowledgedAt: a.acknowledgedAt,
          acknowledgedBy: a.acknowledgedBy,
        });
        return {
          action: 'alert.acknowledge',
          entityType: 'alert',
          entityId: String(after.id),
          before: pick(before),
          after: pick(after),
        };
      });
      // The acknowledgement and its audit entry commit together.
      return withTransaction(app.pg, (tx) => acknowledgeAlert(tx, scopeOf(req), req.params.id, by, audit));
    },
  );
};

export default alertRoutes;
