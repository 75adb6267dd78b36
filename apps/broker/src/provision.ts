/**
 * ThingsBoard's MQTT provisioning session (docs/thingsboard-compatibility.md#provisioning-and-claiming):
 * a CONNECT with username `provision` (or client id `provision`) opens a session that may
 * only subscribe to `/provision/response` and publish one request to `/provision/request`
 * (`{"deviceName","provisionDeviceKey","provisionDeviceSecret"[, credentials]}`). The
 * answer (`{"status":"SUCCESS","credentialsType","credentialsValue"}`, or NOT_FOUND /
 * FAILURE with `errorMsg`) is written to this connection alone on `/provision/response`.
 *
 * Brute force: a key/secret that match no profile is counted in the address's failed-auth
 * budget (AUTH_FAILURES_PER_IP, shared by all broker processes); an address that spent it
 * gets no provisioning session (CONNACK 0x03), as a device guessing credentials would.
 * Anything else a provisioning session sends (another topic, a second request, over
 * PROVISION_MAX_BYTES) closes the connection.
 *
 * Leaked keys: the provision key and secret ship in every device's firmware. Every request
 * spends one of its address's PROVISION_REQUESTS_PER_IP_PER_MIN and every device created one
 * of its profile's PROVISION_CREATES_PER_PROFILE_PER_MIN (Redis, the API's keys: MQTT and
 * HTTP spend one budget); beyond either, FAILURE with errorMsg, nothing created or audited.
 */
import { randomUUID } from 'node:crypto';
import { type ProvisionResponse, parseProvisionRequest } from '@spms/credentials';
import { provisionDevice } from '@spms/device-auth';
import type { Logger } from '@spms/log';
import { parseLenientJson } from '@spms/telemetry';
import type { Client, PublishPacket, Subscription } from 'aedes';
import type { GatewayClient, GatewayContext } from './context.js';
import { SINK_TOPIC } from './topics.js';

export const PROVISION_REQUEST = '/provision/request';
export const PROVISION_RESPONSE = '/provision/response';
/** A provisioning request is a few short strings. */
const PROVISION_MAX_BYTES = 4096;

interface ProvisionSession {
  ip: string;
  log: Logger;
  /** One request per connection. */
  used: boolean;
  /** Where this session's granted subscription points: a topic nothing publishes to. */
  sink: string;
}

const sessions = new WeakMap<Client, ProvisionSession>();

export function isProvisionSession(client: Client | null): boolean {
  return client !== null && sessions.has(client);
}

type AuthDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/** From authenticate: opens the session unless the address is over its limits. */
export function openProvisionSession(ctx: GatewayContext, client: GatewayClient, ip: string, done: AuthDone): void {
  const refuse = (reason: 'connect_rate' | 'auth_failure_rate' | 'unavailable') => {
    ctx.metrics.connects.inc({ result: reason });
    ctx.metrics.refused.inc({ reason });
    ctx.logger.info({ ip, reason, returnCode: 3, provisioning: true }, 'CONNECT refused');
    done(Object.assign(new Error(reason), { returnCode: 3 }), null);
  };
  (async () => {
    if (!(await ctx.connectLimiter.take(ip))) return refuse('connect_rate');
    if (await ctx.authFailureLimiter.exhausted(ip)) return refuse('auth_failure_rate');
    (client as unknown as { _will: unknown })._will = null;
    sessions.set(client, {
      ip,
      log: ctx.logger.child({ provisioning: true, ip }),
      used: false,
      sink: `$spms/provision/${randomUUID()}`,
    });
    ctx.metrics.connects.inc({ result: 'provision' });
    ctx.logger.info({ ip }, 'provisioning session opened');
    done(null, true);
  })().catch((err: unknown) => {
    ctx.logger.error({ err, ip }, 'provisioning session failed unexpectedly');
    refuse('unavailable');
  });
}

/** From authorizeSubscribe: only `/provision/response`, pointed at a topic nothing publishes to. */
export function authorizeProvisionSubscribe(
  ctx: GatewayContext,
  client: Client,
  sub: Subscription,
  callback: (error: Error | null, subscription?: Subscription | null) => void,
): void {
  const p = sessions.get(client);
  if (!p || sub.topic !== PROVISION_RESPONSE) {
    ctx.metrics.refused.inc({ reason: 'subscription_not_allowed' });
    p?.log.warn({ reason: 'subscription_not_allowed', filter: sub.topic }, 'SUBSCRIBE refused (0x80)');
    callback(null, null);
    return;
  }
  // Answers are written to the connection itself (client.publish), never routed.
  callback(null, { ...sub, topic: p.sink, qos: Math.min(sub.qos, 1) as 0 | 1 });
}

/** From authorizePublish: answers the request; anything else closes the connection. */
export function handleProvisionPublish(
  ctx: GatewayContext,
  client: Client,
  packet: PublishPacket,
  callback: (error?: Error | null) => void,
) {
  const p = sessions.get(client);
  if (!p) {
    callback(new Error('no device session'));
    return;
  }
  const close = (reason: 'topic_not_allowed' | 'payload_too_large' | 'invalid_payload', detail: string) => {
    ctx.metrics.refused.inc({ reason });
    p.log.warn({ reason, detail, topic: packet.topic }, 'provisioning PUBLISH refused: closing');
    callback(new Error(`PUBLISH refused: ${reason}`));
  };
  if (packet.topic !== PROVISION_REQUEST)
    return close('topic_not_allowed', 'a provisioning session may only publish to /provision/request');
  if (p.used) return close('invalid_payload', 'one provisioning request per connection');
  p.used = true;
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  if (payload.length > PROVISION_MAX_BYTES) return close('payload_too_large', `${payload.length} bytes`);

  const answer = (response: ProvisionResponse) => {
    p.log.info(
      { status: response.status, ...(response.status === 'SUCCESS' ? {} : { errorMsg: response.errorMsg }) },
      'provisioning answered',
    );
    // The request itself is acknowledged but never routed.
    packet.topic = SINK_TOPIC;
    packet.retain = false;
    client.publish(
      {
        cmd: 'publish',
        topic: PROVISION_RESPONSE,
        payload: Buffer.from(JSON.stringify(response)),
        qos: 1,
        retain: false,
        dup: false,
      },
      () => callback(null),
    );
  };

  const overBudget = (reason: 'provision_address_rate' | 'provision_create_rate', errorMsg: string) => {
    ctx.metrics.refused.inc({ reason });
    p.log.info({ reason }, 'provisioning refused: over its budget');
    answer({ status: 'FAILURE', errorMsg });
  };
  const handle = async () => {
    if (!(await ctx.provisionAddressLimiter.take(p.ip)))
      return overBudget('provision_address_rate', 'too many provisioning requests from this address; retry later');
    let body: unknown;
    try {
      body = parseLenientJson(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    } catch {
      return answer({ status: 'FAILURE', errorMsg: 'provision request is not JSON' });
    }
    const parsed = parseProvisionRequest(body);
    if (!parsed.ok) return answer(parsed.response);
    const outcome = await provisionDevice(
      ctx.pool,
      parsed.request,
      { ip: p.ip, transport: 'mqtt' },
      {
        takeCreation: async (profileId) => ({
          allowed: await ctx.provisionCreateLimiter.take(profileId),
          retryAfterMs: 0,
        }),
      },
    );
    if (outcome.rateLimited)
      return overBudget('provision_create_rate', 'too many devices created in this profile; retry later');
    return outcome;
  };
  handle().then(
    async (outcome) => {
      if (!outcome) return;
      if (outcome.badSecret) await ctx.authFailureLimiter.take(p.ip).catch(() => {});
      if (outcome.deviceId) p.log.info({ deviceId: outcome.deviceId }, 'device provisioned');
      if (outcome.deviceId && outcome.credentialsReplaced) await ctx.announceCredentialsChange(outcome.deviceId);
      answer(outcome.response);
    },
    (err: unknown) => {
      p.log.error({ err }, 'provisioning failed');
      answer({ status: 'FAILURE', errorMsg: 'provisioning is unavailable right now: try again later' });
    },
  );
}
