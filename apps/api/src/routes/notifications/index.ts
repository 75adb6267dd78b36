/** /api/notifications: every text (sent or held back), with its alerts and delivery history. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { listNotifications } from './notifications.js';
import { NotificationList, NotificationQuery } from './schemas.js';

const notificationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.get(
    '/',
    { schema: { querystring: NotificationQuery, response: { 200: NotificationList, ...errorResponses } } },
    async (req) => ({ items: await listNotifications(app.pg, req.principal?.scope ?? null, req.query) }),
  );
};

export default notificationRoutes;
