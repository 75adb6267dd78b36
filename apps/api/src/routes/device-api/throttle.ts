/**
 * Abuse limits of the HTTP device API, the MQTT broker's limits applied per request:
 * - per device, DEVICE_MSG_RATE requests/s with a DEVICE_MSG_BURST allowance;
 * - per source IP, AUTH_FAILURES_PER_IP unknown tokens per minute: beyond it, tokens that
 *   are not already known (cached) get 429 without a database query, while devices whose
 *   token is cached keep working — many modems share one carrier-NAT address.
 * The buckets live in Redis (one Lua call, Redis's clock), so they hold across API
 * processes. Over a limit: 429 with Retry-After. If Redis is down the limits are not
 * applied (the request then fails on its own Redis work with 503 anyway).
 */
import type { Logger } from '@spms/log';
import { type TokenVerdict, takeToken } from '@spms/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { AppError } from '../../core/errors.js';

export type Verdict = TokenVerdict;

export class RedisTokenBuckets {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  /** Takes `cost` tokens (0: only checks that one is left). Rate 0 = unlimited. */
  async take(key: string, ratePerSec: number, burst: number, cost = 1): Promise<Verdict> {
    if (ratePerSec <= 0) return { allowed: true, retryAfterMs: 0 };
    try {
      return await takeToken(this.redis, `${this.prefix}:throttle:${key}`, ratePerSec, burst, cost);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'device-api: throttle unavailable, not applied');
      return { allowed: true, retryAfterMs: 0 };
    }
  }
}

export function sendTooMany(reply: FastifyReply, retryAfterMs: number, message: string): FastifyReply {
  return reply
    .status(429)
    .header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))))
    .send({ error: 'RATE_LIMITED', message });
}

/** onRequest hook of the device-API scope: before any body is read or route runs. */
export function createDeviceThrottle(app: FastifyInstance, log: Logger) {
  const { DEVICE_MSG_RATE, DEVICE_MSG_BURST, AUTH_FAILURES_PER_IP, REDIS_PREFIX } = app.config;
  const buckets = new RedisTokenBuckets(app.redis, REDIS_PREFIX, log);
  const failRate = AUTH_FAILURES_PER_IP / 60;

  return async function throttleDeviceRequest(req: FastifyRequest, reply: FastifyReply) {
    const token = (req.params as { token?: unknown }).token;
    if (typeof token !== 'string' || token === '') return;
    let device = app.deviceAuth.cachedToken(token);
    if (!device) {
      const failures = await buckets.take(`authfail:${req.ip}`, failRate, AUTH_FAILURES_PER_IP, 0);
      if (!failures.allowed)
        return sendTooMany(reply, failures.retryAfterMs, 'too many unknown access tokens from this address');
      const result = await app.deviceAuth.authenticateToken(token);
      if (!result.ok) {
        if (result.reason === 'unavailable')
          throw new AppError('UNAVAILABLE', 'device registry unavailable; retry later');
        await buckets.take(`authfail:${req.ip}`, failRate, AUTH_FAILURES_PER_IP);
        throw new AppError('UNAUTHORIZED', 'unknown or revoked access token');
      }
      device = result.device;
    }
    const rate = await buckets.take(`device:${device.id}`, DEVICE_MSG_RATE, Math.max(1, DEVICE_MSG_BURST));
    if (!rate.allowed)
      return sendTooMany(reply, rate.retryAfterMs, `device over ${DEVICE_MSG_RATE} requests/s; retry later`);
  };
}
