/** /api/profiles: device profile CRUD (Bearer API key; writes need role operator). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pushFirmwareAttributes } from '@spms/firmware';
import { AppError } from '../../core/errors.js';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { ProfileService } from './profile-service.js';
import { CreateProfileBody, Profile, ProfileList, ProfileParams, UpdateProfileBody } from './schemas.js';

const profileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // Firmware assigned to a profile reaches its devices' live sessions after the commit.
  const profiles = new ProfileService(app.prisma, async (changes) => {
    const sent = await pushFirmwareAttributes(app.redis, app.config.REDIS_PREFIX, changes, {
      wakeup: app.config.PUBSUB_WAKEUPS,
    });
    if (sent.failed) app.log.error({ failed: sent.failed }, 'could not push firmware attributes to some devices');
  });
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      requireRole(req, 'operator');
      // A profile applies across the fleet: changing it would reach devices outside a scope.
      if (req.principal?.scope)
        throw new AppError(
          'FORBIDDEN',
          'profiles are fleet-wide: a region- or customer-scoped user cannot change them',
        );
    }
  });
  app.get('/', { schema: { response: { 200: ProfileList, ...errorResponses } } }, async () => profiles.list());
  app.get(
    '/:idOrName',
    { schema: { params: ProfileParams, response: { 200: Profile, ...errorResponses } } },
    async (req) => profiles.get(req.params.idOrName),
  );
  app.post(
    '/',
    { schema: { body: CreateProfileBody, response: { 201: Profile, ...errorResponses } } },
    async (req, reply) => {
      const after = await profiles.create(
        req.body,
        app.auditing(req, (after) => ({ action: 'profile.create', entityType: 'profile', entityId: after.id, after })),
      );
      return reply.status(201).send(after);
    },
  );
  app.patch(
    '/:idOrName',
    { schema: { params: ProfileParams, body: UpdateProfileBody, response: { 200: Profile, ...errorResponses } } },
    async (req) => {
      const before = await profiles.get(req.params.idOrName);
      const after = await profiles.update(
        before.id,
        req.body,
        app.auditing(req, (after) => ({
          action: 'profile.update',
          entityType: 'profile',
          entityId: after.id,
          before,
          after,
        })),
      );
      return after;
    },
  );
  app.delete(
    '/:idOrName',
    { schema: { params: ProfileParams, response: { 200: Profile, ...errorResponses } } },
    async (req) => {
      const before = await profiles.remove(
        req.params.idOrName,
        app.auditing(req, (before) => ({
          action: 'profile.delete',
          entityType: 'profile',
          entityId: before.id,
          before,
        })),
      );
      return before;
    },
  );
};

export default profileRoutes;
