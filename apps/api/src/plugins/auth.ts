/**
 * Operator authentication: `Authorization: Bearer <token>`, where the token is
 * - the initial admin key from SPMS_ADMIN_API_KEY (compared in constant time),
 * - a session token from POST /api/auth/login (`spms_s_…`, routes/auth/sessions.ts), or
 * - an API key (`spms_k_…`, rows of api_keys stored as sha256; older keys `spms_…`). A key owned by a user acts
 *   with at most the user's role and within the intersection of both scopes, and stops
 *   working when the user is disabled or deleted.
 * Routes opt in with `onRequest: app.authenticate`; the device API does not (its token is
 * in the URL, as in ThingsBoard).
 * Roles: viewer (read only) < operator (manage devices, profiles, planned interruptions,
 * acknowledge alerts) < admin (also users, API keys, the audit log).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../core/errors.js';
import type { Principal, Scope } from '../core/principal.js';
import { SESSION_TOKEN_PREFIX, SessionService } from '../routes/auth/sessions.js';

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
    sessions: SessionService;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

const RANK: Record<Principal['role'], number> = { viewer: 0, operator: 1, admin: 2 };

/** 403 unless the authenticated principal has at least `role`. */
export function requireRole(req: FastifyRequest, role: Principal['role']): void {
  const have = req.principal?.role;
  if (!have) throw new AppError('UNAUTHORIZED', 'send `Authorization: Bearer <api key>`');
  if (RANK[have] < RANK[role]) throw new AppError('FORBIDDEN', `this needs role ${role} (yours: ${have})`);
}

/** The lower of two roles (a user's key never acts above its owner). */
export function minRole(a: Principal['role'], b: Principal['role']): Principal['role'] {
  return RANK[a] <= RANK[b] ? a : b;
}

/** Stored lists → Scope; null when neither dimension is restricted. */
export function toScope(regions: string[] | null, customers: string[] | null): Scope | null {
  return regions === null && customers === null ? null : { regions, customers };
}

/** What both scopes allow (a user's key within its owner's scope). */
export function intersectScopes(a: Scope | null, b: Scope | null): Scope | null {
  if (!a) return b;
  if (!b) return a;
  const both = (x: string[] | null, y: string[] | null) => (x && y ? x.filter((v) => y.includes(v)) : (x ?? y));
  return { regions: both(a.regions, b.regions), customers: both(a.customers, b.customers) };
}

// Recording every use would cost a write per request; once a minute is enough to spot idle keys.
const LAST_USED_RESOLUTION_MS = 60_000;

interface KeyRow {
  id: string;
  role: Principal['role'];
  regions: string[] | null;
  customers: string[] | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  user_id: string | null;
  user_role: Principal['role'] | null;
  user_regions: string[] | null;
  user_customers: string[] | null;
  user_disabled_at: Date | null;
}

const UNAUTHORIZED = 'send `Authorization: Bearer <session token or API key>`';

export const authPlugin = fp(
  async (app: FastifyInstance) => {
    const adminKey = app.config.SPMS_ADMIN_API_KEY ? sha256(app.config.SPMS_ADMIN_API_KEY) : null;
    const sessions = new SessionService(app.pg, {
      idleTtlSec: app.config.SESSION_IDLE_TTL_SEC,
      maxTtlSec: app.config.SESSION_MAX_TTL_SEC,
    });
    app.decorate('sessions', sessions);
    // Expired sessions can never be used again; clearing them hourly keeps the table small.
    const purge = setInterval(() => {
      sessions.purgeExpired().catch((err: Error) => app.log.warn({ err: err.message }, 'could not purge sessions'));
    }, 3600_000);
    purge.unref();
    app.addHook('onClose', async () => clearInterval(purge));
    app.decorateRequest('principal', undefined);

    const fromApiKey = async (req: FastifyRequest, hash: Buffer): Promise<Principal> => {
      const res = await app.pg.query<KeyRow>(
        `SELECT k.id, k.role, k.regions, k.customers, k.revoked_at, k.last_used_at, k.user_id,
                u.role AS user_role, u.regions AS user_regions, u.customers AS user_customers,
                u.disabled_at AS user_disabled_at
           FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1`,
        [hash.toString('hex')],
      );
      const key = res.rows[0];
      if (!key || key.revoked_at) throw new AppError('UNAUTHORIZED', 'unknown or revoked API key');
      if (key.user_id && (!key.user_role || key.user_disabled_at))
        throw new AppError('UNAUTHORIZED', 'the user owning this API key is disabled');
      if (!key.last_used_at || Date.now() - key.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
        app.pg
          .query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [key.id])
          .catch((err: Error) => req.log.warn({ err: err.message }, 'could not record API key use'));
      }
      const keyScope = toScope(key.regions, key.customers);
      if (!key.user_id || !key.user_role) return { kind: 'api-key', id: key.id, role: key.role, scope: keyScope };
      const role = minRole(key.role, key.user_role);
      // Admins are never scoped (routes/users/users.ts); a key demoted below admin keeps its scope.
      const scope = intersectScopes(keyScope, toScope(key.user_regions, key.user_customers));
      return { kind: 'api-key', id: key.id, role, scope: role === 'admin' ? null : scope, userId: key.user_id };
    };

    app.decorate('authenticate', async (req: FastifyRequest) => {
      const header = req.headers.authorization;
      const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match?.[1]) throw new AppError('UNAUTHORIZED', UNAUTHORIZED);
      const token = match[1];
      const presented = sha256(token);
      if (adminKey && timingSafeEqual(presented, adminKey)) {
        req.principal = { kind: 'admin-key', id: 'env:SPMS_ADMIN_API_KEY', role: 'admin', scope: null };
        return;
      }
      if (token.startsWith(SESSION_TOKEN_PREFIX)) {
        const session = await sessions.resolve(token);
        if (!session) {
          // A key issued before API keys had their own prefix may begin with `spms_s_` too.
          const legacyKey = await fromApiKey(req, presented).catch(() => undefined);
          if (legacyKey) {
            req.principal = legacyKey;
            return;
          }
          throw new AppError('UNAUTHORIZED', 'session expired or signed out; sign in again');
        }
        const { user } = session;
        req.principal = {
          kind: 'session',
          id: session.sessionId,
          role: user.role,
          scope: user.role === 'admin' ? null : toScope(user.regions, user.customers),
          userId: user.id,
        };
        return;
      }
      req.principal = await fromApiKey(req, presented);
    });
  },
  { name: 'auth', dependencies: ['resources'] },
);
