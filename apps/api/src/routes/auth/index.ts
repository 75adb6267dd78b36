/**
 * /api/auth: sign in with a password for a session token, sign out, who am I.
 * - POST /login `{username | email, password}` → `{token, expiresAt, user}`; the token goes
 *   in `Authorization: Bearer …` like an API key. Limited per IP (SIGNIN_RATE_LIMIT_PER_MIN);
 *   repeated failures lock the (username, IP) pair with back-off and the IP (429 +
 *   Retry-After), and slow down (never refuse) a username (routes/auth/sessions-throttle.ts).
 * - POST /logout ends the calling session. GET /me describes the caller.
 * - POST /password `{currentPassword, newPassword}`: a signed-in user changes their own
 *   password; their other sessions end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withTransaction } from '@spms/db';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { ErrorBody, errorResponses, formatSchemaErrors } from '../error-schema.js';
import { notifyAccessChange } from '../stream/live.js';
import { burnPasswordCheck, hashPassword, needsRehash, verifyPassword } from '../users/passwords.js';
import { Role, User } from '../users/schemas.js';
import { updateUserAudited } from '../users/update-user.js';
import { toUserView, UserService } from '../users/users.js';
import { SignInThrottle } from './sessions-throttle.js';

const LoginBody = Type.Object(
  {
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    email: Type.Optional(Type.String({ minLength: 1, maxLength: 254 })),
    password: Type.String({ minLength: 1, maxLength: 256 }),
  },
  { additionalProperties: false },
);
const LoginReply = Type.Object({
  token: Type.String({ description: 'session token: send as `Authorization: Bearer <token>`' }),
  expiresAt: Type.String({ format: 'date-time', description: 'sliding: renewed on use, up to SESSION_MAX_TTL_SEC' }),
  user: User,
});
const MeReply = Type.Object({
  kind: Type.Enum(['admin-key', 'api-key', 'session']),
  id: Type.String(),
  role: Role,
  regions: Type.Union([Type.Array(Type.String()), Type.Null()]),
  customers: Type.Union([Type.Array(Type.String()), Type.Null()]),
  user: Type.Union([User, Type.Null()]),
});
const BAD_LOGIN = 'wrong username or password';
const PasswordField = Type.String({ minLength: 10, maxLength: 256, description: 'at least 10 characters' });

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const cfg = app.config;
  const scrypt = { logN: cfg.PASSWORD_SCRYPT_LOG_N, r: 8, p: cfg.PASSWORD_SCRYPT_P };
  const users = new UserService(app.pg, scrypt);
  const throttle = new SignInThrottle(app.redis, cfg.REDIS_PREFIX, {
    maxPerUser: cfg.SIGNIN_MAX_FAILURES_PER_USER,
    maxPerIp: cfg.SIGNIN_MAX_FAILURES_PER_IP,
    lockoutSec: cfg.SIGNIN_LOCKOUT_SEC,
    backoffBaseSec: cfg.SIGNIN_BACKOFF_BASE_SEC,
    userDelayMaxMs: cfg.SIGNIN_USER_DELAY_MAX_MS,
  });
  app.setSchemaErrorFormatter(formatSchemaErrors);

  app.post(
    '/login',
    {
      config: { rateLimit: { max: cfg.SIGNIN_RATE_LIMIT_PER_MIN, timeWindow: 60_000, groupId: 'signin' } },
      schema: {
        security: [],
        body: LoginBody,
        response: { 200: LoginReply, ...errorResponses, 429: ErrorBody },
      },
    },
    async (req, reply) => {
      const login = req.body.username ?? req.body.email;
      if (!login || (req.body.username && req.body.email))
        throw new AppError('BAD_REQUEST', 'send exactly one of "username" or "email", with "password"');
      // Redis down: sign-in still works (fails open), only without lock-outs; said in the log.
      const lockedFor = await throttle.lockedFor(login, req.ip).catch((err: Error) => {
        req.log.error({ err: err.message }, 'sign-in throttle unavailable');
        return 0;
      });
      if (lockedFor > 0) {
        reply.header('retry-after', String(lockedFor));
        throw new AppError('RATE_LIMITED', `too many failed sign-ins; try again in ${lockedFor} s`);
      }
      // A username under attack from many addresses: every attempt waits a little (capped).
      const delay = await throttle.slowDownMs(login).catch(() => 0);
      if (delay > 0) await sleep(delay);
      const user = await users.findForLogin(login);
      let ok = false;
      if (user?.password_hash && !user.disabled_at) ok = await verifyPassword(req.body.password, user.password_hash);
      else await burnPasswordCheck(req.body.password, scrypt);
      if (!user || !ok) {
        await throttle.recordFailure(login, req.ip).catch(() => {});
        req.log.info({ login: login.slice(0, 100) }, 'failed sign-in');
        // Same answer for an unknown name, a disabled user and a wrong password.
        throw new AppError('UNAUTHORIZED', BAD_LOGIN);
      }
      await throttle.recordSuccess(login, req.ip).catch(() => {});
      const rehash =
        user.password_hash && needsRehash(user.password_hash, scrypt)
          ? await hashPassword(req.body.password, scrypt)
          : undefined;
      const session = await withTransaction(app.pg, async (tx) => {
        await users.inTransaction(tx).recordLogin(user.id, rehash);
        const session = await app.sessions
          .inTransaction(tx)
          .create(user.id, { ip: req.ip, userAgent: req.headers['user-agent'] });
        const actor = { kind: 'session', id: 'login', userId: user.id };
        await app.audit(req, { action: 'auth.login', entityType: 'user', entityId: user.id, actor }, tx);
        return session;
      });
      return {
        token: session.token,
        expiresAt: session.expiresAt.toISOString(),
        user: { ...toUserView(user), lastLoginAt: new Date().toISOString() },
      };
    },
  );

  app.post(
    '/logout',
    {
      onRequest: app.authenticate,
      schema: { response: { 200: Type.Object({ signedOut: Type.Boolean() }), ...errorResponses } },
    },
    async (req) => {
      const p = req.principal;
      if (p?.kind !== 'session') throw new AppError('BAD_REQUEST', 'only a session signs out; revoke API keys instead');
      await withTransaction(app.pg, async (tx) => {
        await app.sessions.inTransaction(tx).revoke(p.id);
        await app.audit(req, { action: 'auth.logout', entityType: 'user', entityId: p.userId ?? null }, tx);
      });
      // Streams of this session end now (they also re-check on their own within SSE_RECHECK_MS).
      await notifyAccessChange(app.redis, app.config.REDIS_PREFIX, `session:${p.id}`);
      return { signedOut: true };
    },
  );

  app.post(
    '/password',
    {
      onRequest: app.authenticate,
      schema: {
        body: Type.Object(
          { currentPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: PasswordField },
          { additionalProperties: false },
        ),
        response: { 200: User, ...errorResponses },
      },
    },
    async (req) => {
      const p = req.principal;
      if (p?.kind !== 'session' || !p.userId)
        throw new AppError('BAD_REQUEST', 'sign in with a password to change it (API keys cannot)');
      const current = await users.find(p.userId);
      if (!current.password_hash || !(await verifyPassword(req.body.currentPassword, current.password_hash)))
        throw new AppError('FORBIDDEN', 'currentPassword: wrong password');
      // Every other session of the user ends; this one stays signed in.
      return updateUserAudited(app, req, users, {
        idOrName: p.userId,
        input: { password: req.body.newPassword },
        action: 'user.password_change',
        keepSessionId: p.id,
      });
    },
  );

  app.get(
    '/me',
    { onRequest: app.authenticate, schema: { response: { 200: MeReply, ...errorResponses } } },
    async (req) => {
      const p = req.principal;
      if (!p) throw new AppError('UNAUTHORIZED', 'not signed in');
      const user = p.userId ? toUserView(await users.find(p.userId)) : null;
      return {
        kind: p.kind,
        id: p.id,
        role: p.role,
        regions: p.scope?.regions ?? null,
        customers: p.scope?.customers ?? null,
        user,
      };
    },
  );
};

export default authRoutes;
