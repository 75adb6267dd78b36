/**
 * One session per device, and the device's connectivity through the durable queue.
 *
 * A device reconnecting after a reboot (same client id: aedes closes the old connection
 * itself [MQTT-3.1.4-2]) or from another client id replaces its older session; the older
 * one is marked `replaced` *before* it closes so its close is recorded as
 * `session_replaced`, not as the device going offline.
 */
import type { ConnectivityEvent } from '@spms/queue';
import { newMessageId } from '@spms/queue';
import type { Aedes } from 'aedes';
import type { GatewayClient, GatewayContext } from './context.js';

export function recordConnectivity(
  ctx: GatewayContext,
  deviceId: string,
  event: ConnectivityEvent,
  detail?: Record<string, string | number | boolean | null>,
): void {
  ctx.metrics.connectivity.inc({ event });
  ctx.producer
    .enqueue({
      kind: 'connectivity',
      id: newMessageId(),
      deviceId,
      receivedAt: Date.now(),
      transport: 'mqtt',
      event,
      ...(detail ? { detail } : {}),
    })
    .catch((err: unknown) => {
      // Nothing to withhold here; the worker also times devices out by inactivity.
      ctx.metrics.refused.inc({ reason: 'enqueue_failed' });
      ctx.logger.warn({ err, deviceId, event }, 'connectivity event not enqueued');
    });
}

/** Called once credentials are accepted, before aedes registers the client. */
export function registerSession(ctx: GatewayContext, client: GatewayClient): void {
  const session = client.spms;
  if (!session) return;
  const deviceId = session.device.id;
  const previous = ctx.devices.get(deviceId);
  ctx.devices.set(deviceId, client);
  ctx.claimSession(client);
  if (previous && previous !== client && !previous.closed && previous.spms) {
    previous.spms.replaced = true;
    previous.spms.closeReason = 'session_replaced';
    const ids = { previousClientId: previous.spmsClientId ?? previous.id, clientId: client.spmsClientId ?? client.id };
    session.log.info(ids, 'session replaced by a new connection');
    recordConnectivity(ctx, deviceId, 'session_replaced', ids);
    // With the same client id aedes closes it during registration; otherwise we do.
    if (previous.id !== client.id) previous.close();
  }
}

/** Closes a device's live session (credentials rotated/revoked, device deleted). */
export function disconnectDevice(ctx: GatewayContext, deviceId: string, reason: string): boolean {
  const client = ctx.devices.get(deviceId);
  if (!client || client.closed || !client.spms) return false;
  client.spms.closeReason = reason;
  client.spms.log.info({ reason }, 'closing device session');
  client.close();
  return true;
}

export function wireSessionEvents(ctx: GatewayContext, broker: Aedes): void {
  broker.on('clientReady', (c) => {
    const client = c as GatewayClient;
    const s = client.spms;
    if (!s) return;
    const clientId = client.spmsClientId ?? client.id;
    // `s.log` builds a pino child: not for a line the level drops (once per connect of a storm).
    if (ctx.logger.isLevelEnabled('info')) s.log.info({ clientId, ip: s.ip }, 'device connected');
    recordConnectivity(ctx, s.device.id, 'connect', { clientId, ip: s.ip });
  });

  broker.on('keepaliveTimeout', (c) => {
    const s = (c as GatewayClient).spms;
    if (s) s.keepaliveTimedOut = true;
  });

  broker.on('clientDisconnect', (c) => {
    const client = c as GatewayClient;
    const s = client.spms;
    if (!s) return;
    const deviceId = s.device.id;
    if (ctx.devices.get(deviceId) === client) ctx.devices.delete(deviceId);
    ctx.releaseSession(client);
    if (s.replaced) return; // recorded as session_replaced when the newer one arrived
    const graceful = (client as unknown as { _disconnected: boolean })._disconnected;
    let event: ConnectivityEvent = 'connection_lost';
    let detail: Record<string, string> | undefined;
    if (s.keepaliveTimedOut) event = 'keepalive_timeout';
    else if (graceful) event = 'disconnect';
    else if (s.closeReason) {
      event = 'disconnect';
      detail = { by: 'server', reason: s.closeReason };
    }
    if (ctx.logger.isLevelEnabled('info')) s.log.info({ event, ...detail }, 'device disconnected');
    recordConnectivity(ctx, deviceId, event, detail);
  });

  // PINGREQ is activity (docs/thingsboard-compatibility.md), coalesced so idle devices do not flood the queue.
  const interval = ctx.config.PING_ACTIVITY_INTERVAL_SEC * 1000;
  broker.on('ping', (_packet, c) => {
    const s = (c as GatewayClient).spms;
    if (!s) return;
    const now = Date.now();
    if (now - s.lastActivityAt < interval) return;
    s.lastActivityAt = now;
    recordConnectivity(ctx, s.device.id, 'activity', { via: 'pingreq' });
  });
}
