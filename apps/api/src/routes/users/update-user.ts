/**
 * A user changed through the API (an admin's update or password reset, a user's own password
 * change): the update and its audit entry in one transaction, then every API process's open
 * live streams re-check that user's access (role, scope, disabled, sessions ended).
 */
import { withTransaction } from '@spms/db';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notifyAccessChange } from '../stream/live.js';
import type { UserInput, UserService, UserView } from './users.js';

export async function updateUserAudited(
  app: FastifyInstance,
  req: FastifyRequest,
  users: UserService,
  change: { idOrName: string; input: UserInput; action: string; keepSessionId?: string },
): Promise<UserView> {
  const opts = change.keepSessionId === undefined ? {} : { keepSessionId: change.keepSessionId };
  const after = await withTransaction(app.pg, async (tx) => {
    const { before, after } = await users.inTransaction(tx).update(change.idOrName, change.input, opts);
    await app.audit(req, { action: change.action, entityType: 'user', entityId: after.id, before, after }, tx);
    return after;
  });
  await notifyAccessChange(app.redis, app.config.REDIS_PREFIX, `user:${after.id}`);
  return after;
}
