/**
 * Operator authentication: `Authorization: Bearer <api key>`. Keys are the initial admin
 * key from SPMS_ADMIN_API_KEY (compared in constant time) or rows of api_keys (stored as
 * sha256). Routes opt in with `preHandler: app.authenticate`; the device API does not
 * (its token is in the URL, as in ThingsBoard).
 * Roles: viewer (read only) < operator (manage devices and profiles) < admin (also API keys).
 * Users and sessions come with the operator API issue.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from './errors.js';

/**
 * What a principal may see. null lists mean "no restriction on this dimension"; a device is
 * visible when it matches every restricted dimension (region AND customer).
 */
export interface Scope {
  regions: string[] | null;
  customers: string[] | null;
}

export interface Principal {
  kind: 'admin-key' | 'api-key' | 'session';
  id: string;
  role: 'admin' | 'operator' | 'viewer';
  /** null = the whole fleet. */
  scope: Scope | null;
  /** The signed-in user (sessions, and API keys owned by a user). */
  userId?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    authenticate: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
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
  if (RANK[have] < RANK[role])
    throw new AppError('FORBIDDEN', `this needs an API key with role ${role} (yours: ${have})`);
}

// Recording every use would cost a write per request; once a minute is enough to spot idle keys.
const LAST_USED_RESOLUTION_MS = 60_000;

export const authPlugin = fp(
  async (app: FastifyInstance) => {
    const adminKey = app.config.SPMS_ADMIN_API_KEY ? sha256(app.config.SPMS_ADMIN_API_KEY) : null;
    app.decorateRequest('principal', undefined);
    app.decorate('authenticate', async (req: FastifyRequest) => {
      const header = req.headers.authorization;
      const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
      if (!match?.[1]) throw new AppError('UNAUTHORIZED', 'send `Authorization: Bearer <api key>`');
      const presented = sha256(match[1]);
      if (adminKey && timingSafeEqual(presented, adminKey)) {
        req.principal = { kind: 'admin-key', id: 'env:SPMS_ADMIN_API_KEY', role: 'admin', scope: null };
        return;
      }
      const key = await app.prisma.apiKey.findUnique({ where: { keyHash: presented.toString('hex') } });
      if (!key || key.revokedAt) throw new AppError('UNAUTHORIZED', 'unknown or revoked API key');
      req.principal = { kind: 'api-key', id: key.id, role: key.role as Principal['role'], scope: null };
      if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
        app.prisma.apiKey
          .update({ where: { id: key.id }, data: { lastUsedAt: new Date() } })
          .catch((err) => req.log.warn({ err: err.message }, 'could not record API key use'));
      }
    });
  },
  { name: 'auth', dependencies: ['resources'] },
);
