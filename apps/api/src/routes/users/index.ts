/**
 * /api/users: admins manage operator accounts (role, scope, disable, password reset).
 * The first admin is created with the SPMS_ADMIN_API_KEY bearer:
 *   POST /api/users {"username":"alice","password":"…","role":"admin"}
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { Type } from 'typebox';
import { requireRole } from '../../plugins/auth.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { notifyAccessChange } from '../stream/live.js';
import { CreateUserBody, ListUsersQuery, PasswordBody, UpdateUserBody, User, UserParams } from './schemas.js';
import { updateUserAudited } from './update-user.js';
import { toUserView, UserService } from './users.js';

const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const users = new UserService(app.pg, {
    logN: app.config.PASSWORD_SCRYPT_LOG_N,
    r: 8,
    p: app.config.PASSWORD_SCRYPT_P,
  });
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  app.addHook('preHandler', async (req) => requireRole(req, 'admin'));

  app.get(
    '/',
    { schema: { querystring: ListUsersQuery, response: { 200: Type.Array(User), ...errorResponses } } },
    async (req) => users.list(req.query),
  );
  app.get(
    '/:idOrUsername',
    { schema: { params: UserParams, response: { 200: User, ...errorResponses } } },
    async (req) => toUserView(await users.find(req.params.idOrUsername)),
  );
  app.post(
    '/',
    { schema: { body: CreateUserBody, response: { 201: User, ...errorResponses } } },
    async (req, reply) => {
      const user = await withTransaction(app.pg, async (tx) => {
        const user = await users.inTransaction(tx).create(req.body);
        await app.audit(req, { action: 'user.create', entityType: 'user', entityId: user.id, after: user }, tx);
        return user;
      });
      return reply.status(201).send(user);
    },
  );
  app.patch(
    '/:idOrUsername',
    { schema: { params: UserParams, body: UpdateUserBody, response: { 200: User, ...errorResponses } } },
    async (req) => {
      // Role, scope or disabled may have changed: open streams re-check now.
      return updateUserAudited(app, req, users, {
        idOrName: req.params.idOrUsername,
        input: req.body,
        action: 'user.update',
      });
    },
  );
  app.post(
    '/:idOrUsername/password',
    { schema: { params: UserParams, body: PasswordBody, response: { 200: User, ...errorResponses } } },
    async (req) => {
      // The hash never enters the log; the entry says that and when the password changed.
      return updateUserAudited(app, req, users, {
        idOrName: req.params.idOrUsername,
        input: { password: req.body.password },
        action: 'user.password_reset',
      });
    },
  );
  app.delete(
    '/:idOrUsername',
    { schema: { params: UserParams, response: { 200: User, ...errorResponses } } },
    async (req) => {
      const before = await withTransaction(app.pg, async (tx) => {
        const before = await users.inTransaction(tx).remove(req.params.idOrUsername);
        await app.audit(req, { action: 'user.delete', entityType: 'user', entityId: before.id, before }, tx);
        return before;
      });
      await notifyAccessChange(app.redis, app.config.REDIS_PREFIX, `user:${before.id}`);
      return before;
    },
  );
};

export default userRoutes;
