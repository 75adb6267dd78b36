/**
 * Rate limits for the operator API, counted in Redis (shared by every API instance):
 * API_RATE_LIMIT_MAX requests per API_RATE_LIMIT_WINDOW_MS per principal (the session or
 * key, or the client IP when unauthenticated); stricter limits on single routes (sign-in)
 * come from their `config.rateLimit`. Not limited: the device API (/api/v1/…, devices
 * must never be refused by operator limits; gateways have their own protection), health
 * checks and the docs. When Redis is unreachable requests pass (skipOnError) rather than
 * take the API down with it. 429 answers carry Retry-After. A second, looser limit per
 * client IP (API_RATE_LIMIT_PER_IP_MAX) also covers requests that fail authentication.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from '../core/errors.js';

// Twilio delivery receipts are signed webhooks that are not retried: never refuse them.
const EXEMPT = /^\/(api\/v1\/|api\/sms\/status|healthz|readyz|metrics|docs)/;

export const rateLimitPlugin = fp(
  async (app: FastifyInstance) => {
    const max = app.config.API_RATE_LIMIT_MAX;
    await app.register(rateLimit, {
      // Route-level limits (sign-in) still apply when the global one is switched off (0).
      global: max > 0,
      max: max > 0 ? max : 1,
      timeWindow: app.config.API_RATE_LIMIT_WINDOW_MS,
      redis: app.redis,
      nameSpace: `${app.config.REDIS_PREFIX}:rl:`,
      skipOnError: true,
      // Route hooks run after the plugin's onRequest hooks, so authenticated routes know
      // their principal here; sign-in and 401s are counted per address.
      keyGenerator: (req: FastifyRequest) =>
        req.principal ? `${req.principal.kind}:${req.principal.id}` : `ip:${req.ip}`,
      allowList: (req: FastifyRequest) => EXEMPT.test(req.url),
      errorResponseBuilder: (_req, ctx) =>
        new AppError('RATE_LIMITED', `rate limit exceeded (${ctx.max} requests); retry in ${ctx.after}`),
    });
    // A root-level hook runs before any route's authentication, so it also counts requests
    // that will fail with 401 (the per-principal limit above cannot see those).
    const perIp = app.config.API_RATE_LIMIT_PER_IP_MAX;
    if (perIp > 0) {
      const check = app.createRateLimit({ max: perIp, keyGenerator: (req) => `per-ip:${req.ip}` });
      app.addHook('onRequest', async (req, reply) => {
        if (EXEMPT.test(req.url)) return;
        const limit = await check(req).catch((err: Error) => {
          req.log.warn({ err: err.message }, 'rate limit store unavailable');
          return undefined;
        });
        if (limit && !limit.isAllowed && limit.isExceeded) {
          reply.header('retry-after', String(limit.ttlInSeconds));
          throw new AppError('RATE_LIMITED', `too many requests from this address; retry in ${limit.ttlInSeconds} s`);
        }
      });
    }
  },
  { name: 'rate-limit', dependencies: ['resources'] },
);
