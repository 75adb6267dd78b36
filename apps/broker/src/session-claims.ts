/**
 * One session per device across gateway processes. Each gateway announces on Redis the
 * devices that connect to it; a gateway still holding an older session of that device
 * closes it, recorded as `session_replaced` (not as the device going offline). Needed to
 * run several broker processes behind one address (a process is capped by its open-files
 * limit) or several hosts behind a load balancer. Pub/sub is best effort: if a claim is
 * lost, the stale session still ends by keep-alive timeout.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GatewayContext } from './context.js';
import { recordConnectivity } from './sessions.js';

export function sessionClaimsChannel(prefix: string): string {
  return `${prefix}:broker:sessions`;
}

export interface SessionClaims {
  announce(deviceId: string): void;
}

export async function startSessionClaims(
  ctx: GatewayContext,
  publisher: Redis,
  subscriber: Redis,
): Promise<SessionClaims> {
  const gatewayId = randomUUID();
  const channel = sessionClaimsChannel(ctx.config.REDIS_PREFIX);
  subscriber.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    let claim: { deviceId?: unknown; gatewayId?: unknown };
    try {
      claim = JSON.parse(raw);
    } catch {
      return;
    }
    if (claim.gatewayId === gatewayId || typeof claim.deviceId !== 'string') return;
    const client = ctx.devices.get(claim.deviceId);
    if (!client || client.closed || !client.spms) return;
    client.spms.replaced = true;
    client.spms.closeReason = 'session_replaced';
    client.spms.log.info('session taken over by a connection on another gateway');
    recordConnectivity(ctx, claim.deviceId, 'session_replaced', { by: 'other_gateway' });
    client.close();
  });
  await subscriber.subscribe(channel);
  return {
    announce(deviceId) {
      publisher.publish(channel, JSON.stringify({ deviceId, gatewayId })).catch((err: unknown) => {
        ctx.logger.debug({ err, deviceId }, 'session claim not announced');
      });
    },
  };
}
