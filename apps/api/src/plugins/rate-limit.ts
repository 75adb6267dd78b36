/**
 * Rate limits for the operator API, counted in Redis (shared by every API instance):
 * API_RATE_LIMIT_MAX requests per API_RATE_LIMIT_WINDOW_MS per principal (the session or
 * key, or the client IP when unauthenticated); stricter limits on single routes (sign-in)
 * come from their `config.rateLimit`. Not limited: the device API (/api/v1/…, devices
 * must never be refused by operator limits; gateways have their own protection), health
 * checks and the docs. When Redis is unreachable requests pass (skipOnError) rather than
 * take the API down with it. 429 answers carry Retry-After.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { AppError } from './errors.js';

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
  },
  { name: 'rate-limit', dependencies: ['resources'] },
);
