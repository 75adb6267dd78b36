/** /api/profiles: device profile CRUD (Bearer API key; writes need role operator). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireRole } from '../../plugins/auth.js';
import { ProfileService } from '../../services/profile-service.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { CreateProfileBody, Profile, ProfileList, ProfileParams, UpdateProfileBody } from './schemas.js';

const profileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const profiles = new ProfileService(app.prisma);
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') requireRole(req, 'operator');
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
    async (req, reply) => reply.status(201).send(await profiles.create(req.body)),
  );
  app.patch(
    '/:idOrName',
    { schema: { params: ProfileParams, body: UpdateProfileBody, response: { 200: Profile, ...errorResponses } } },
    async (req) => profiles.update(req.params.idOrName, req.body),
  );
  app.delete(
    '/:idOrName',
    { schema: { params: ProfileParams, response: { 200: Profile, ...errorResponses } } },
    async (req) => profiles.remove(req.params.idOrName),
  );
};

export default profileRoutes;
