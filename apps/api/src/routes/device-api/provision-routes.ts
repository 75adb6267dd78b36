/**
 * ThingsBoard's HTTP provisioning and claiming (docs/thingsboard-compatibility.md#provisioning-and-claiming):
 * - `POST /api/v1/provision` with `{"deviceName","provisionDeviceKey","provisionDeviceSecret"[, credentials]}`
 *   → 200 with ThingsBoard's answer (`{"status":"SUCCESS","credentialsType","credentialsValue"}`,
 *   or `{"status":"NOT_FOUND"|"FAILURE","errorMsg"}`), the same as the broker's
 *   `/provision/response` (the decisions in @spms/credentials, the database work in
 *   @spms/device-auth). A key/secret that match no profile are counted in the address's
 *   unknown-token budget (AUTH_FAILURES_PER_IP per minute, shared with unknown access
 *   tokens): beyond it, 429 with Retry-After before any secret is checked.
 *   The provision key and secret ship in every device's firmware, so they are treated as
 *   leakable: every request spends one of its address's PROVISION_REQUESTS_PER_IP_PER_MIN,
 *   and every device created one of its profile's PROVISION_CREATES_PER_PROFILE_PER_MIN
 *   (Redis, shared with the brokers' MQTT provisioning); beyond either, 429 with Retry-After
 *   and ThingsBoard's `{"status":"FAILURE","errorMsg"}`, nothing created or audited.
 * - `POST /api/v1/<token>/claim` with `{"secretKey","durationMs"}`: the device's claim
 *   request (secret hashed, with an expiry) → 200; 400 without a secret.
 */
import { type ProvisionResponse, parseClaimRequest, parseProvisionRequest } from '@spms/credentials';
import {
  announceCredentialsChange,
  PROVISION_ADDRESS_BUCKET,
  PROVISION_CREATE_BUCKET,
  provisionDevice,
  recordClaim,
} from '@spms/device-auth';
import type { Logger } from '@spms/log';
import { parseLenientJson } from '@spms/telemetry';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../core/errors.js';
import { metricsOf } from '../../plugins/metrics.js';
import { authenticateToken } from './gateway.js';
import { rawBody, type TokenParams, tokenParams } from './ingest-routes.js';
import { RedisTokenBuckets, sendTooMany } from './throttle.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_PROVISION_BYTES = 4096;

function parseBody(body: unknown, limit: number): { ok: true; value: unknown } | { ok: false; error: string } {
  const buf = rawBody(body);
  if (buf.length > limit) return { ok: false, error: `request body over ${limit} bytes` };
  try {
    return { ok: true, value: parseLenientJson(utf8.decode(buf)) };
  } catch {
    return { ok: false, error: 'request body is not JSON' };
  }
}

export async function provisionRoutes(app: FastifyInstance): Promise<void> {
  const {
    AUTH_FAILURES_PER_IP,
    PROVISION_REQUESTS_PER_IP_PER_MIN,
    PROVISION_CREATES_PER_PROFILE_PER_MIN,
    REDIS_PREFIX,
  } = app.config;
  const refused = metricsOf(app).provisionRefused;
  const buckets = new RedisTokenBuckets(
    app.redis,
    REDIS_PREFIX,
    app.log.child({ component: 'device-api' }) as unknown as Logger,
  );
  const failRate = AUTH_FAILURES_PER_IP / 60;
  const perMinute = (n: number) => [n / 60, n] as const;
  const tooMany = (
    reply: FastifyReply,
    budget: 'address' | 'profile_creates',
    retryAfterMs: number,
    response: ProvisionResponse,
  ) => {
    refused.inc({ budget });
    reply.log.info({ budget, retryAfterMs }, 'provisioning refused: over its budget');
    return reply
      .status(429)
      .header('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))))
      .send(response);
  };

  app.post('/provision', async (req, reply) => {
    const failures = await buckets.take(`authfail:${req.ip}`, failRate, AUTH_FAILURES_PER_IP, 0);
    if (!failures.allowed)
      return sendTooMany(reply, failures.retryAfterMs, 'too many failed provisioning attempts from this address');
    const address = await buckets.take(
      PROVISION_ADDRESS_BUCKET + req.ip,
      ...perMinute(PROVISION_REQUESTS_PER_IP_PER_MIN),
    );
    if (!address.allowed)
      return tooMany(reply, 'address', address.retryAfterMs, {
        status: 'FAILURE',
        errorMsg: `too many provisioning requests from this address; retry in ${Math.max(1, Math.ceil(address.retryAfterMs / 1000))} s`,
      });
    const answer = (response: ProvisionResponse) => {
      req.log.info(
        { status: response.status, ...(response.status === 'SUCCESS' ? {} : { errorMsg: response.errorMsg }) },
        'provisioning answered',
      );
      return reply.status(200).send(response);
    };
    const body = parseBody(req.body, MAX_PROVISION_BYTES);
    if (!body.ok) return answer({ status: 'FAILURE', errorMsg: body.error });
    const parsed = parseProvisionRequest(body.value);
    if (!parsed.ok) return answer(parsed.response);
    let outcome: Awaited<ReturnType<typeof provisionDevice>>;
    try {
      outcome = await provisionDevice(
        app.pg,
        parsed.request,
        { ip: req.ip, transport: 'http' },
        {
          takeCreation: (profileId) =>
            buckets.take(PROVISION_CREATE_BUCKET + profileId, ...perMinute(PROVISION_CREATES_PER_PROFILE_PER_MIN)),
        },
      );
    } catch (err) {
      req.log.error({ err }, 'provisioning failed');
      throw new AppError('UNAVAILABLE', 'provisioning is unavailable right now; retry later');
    }
    if (outcome.rateLimited)
      return tooMany(reply, 'profile_creates', outcome.rateLimited.retryAfterMs, outcome.response);
    if (outcome.badSecret) await buckets.take(`authfail:${req.ip}`, failRate, AUTH_FAILURES_PER_IP);
    if (outcome.deviceId) req.log.info({ deviceId: outcome.deviceId }, 'device provisioned');
    if (outcome.deviceId && outcome.credentialsReplaced)
      await announceCredentialsChange(app.redis, REDIS_PREFIX, outcome.deviceId, req.log);
    return answer(outcome.response);
  });

  app.post<{ Params: TokenParams }>('/:token/claim', { schema: { params: tokenParams } }, async (req, reply) => {
    const device = await authenticateToken(app, req.params.token);
    const body = parseBody(req.body, MAX_PROVISION_BYTES);
    if (!body.ok) throw new AppError('BAD_REQUEST', body.error);
    const claim = parseClaimRequest(body.value);
    if (!claim.ok) throw new AppError('BAD_REQUEST', claim.error);
    await recordClaim(app.pg, device.id, claim.request);
    req.log.info({ deviceId: device.id, durationMs: claim.request.durationMs }, 'claiming request recorded');
    return reply.status(200).send();
  });
}
