/**
 * aedes `authorizeSubscribe`: a device may subscribe only to ThingsBoard's device topics
 * (`v1/devices/me/attributes`, `.../attributes/response/+`, `.../rpc/request/+`,
 * `.../rpc/response/+`, and for firmware `v2/fw/response/+/chunk/+`, `v2/fw/response/#`,
 * `v2/fw/error`: topics.ts). Any other filter — `#`, `+/...`, another device's namespace —
 * gets return code 0x80 in the SUBACK [MQTT-3.9.3] (aedes writes 0x80 when the callback
 * passes no subscription); the other filters of the same SUBSCRIBE are still granted.
 *
 * Every device subscribes to the same literal topics, so an accepted filter is rewritten
 * into the device's own namespace (`$spms/d/<deviceId>/v1/devices/me/...`): a message
 * published for one device can only ever match that device's subscriptions.
 * QoS is granted as asked, at most 1 (ThingsBoard: QoS 0 and 1) [MQTT-3.9.3-2].
 */
import type { Client, Subscription } from 'aedes';
import type { GatewayClient, GatewayContext } from './context.js';
import { authorizeProvisionSubscribe, isProvisionSession } from './provision.js';
import { ALLOWED_SUBSCRIPTIONS, deviceTopic, splitDeviceTopic } from './topics.js';

export function createAuthorizeSubscribe(ctx: GatewayContext) {
  return function authorizeSubscribe(
    c: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ) {
    const s = (c as GatewayClient).spms;
    if (!s && isProvisionSession(c)) return authorizeProvisionSubscribe(ctx, c, sub, callback);
    if (!s) return callback(null, null);
    let topic = sub.topic;
    // A persistent session's stored subscriptions come back already rewritten.
    const own = splitDeviceTopic(topic);
    if (own) {
      if (own.deviceId !== s.device.id) return refuse();
      topic = own.topic;
    }
    if (!ALLOWED_SUBSCRIPTIONS.has(topic)) return refuse();
    sub.topic = deviceTopic(s.device.id, topic);
    if (sub.qos > 1) sub.qos = 1;
    callback(null, sub);

    function refuse(): void {
      ctx.metrics.refused.inc({ reason: 'subscription_not_allowed' });
      s?.log.warn({ reason: 'subscription_not_allowed', filter: sub.topic }, 'SUBSCRIBE refused (0x80)');
      callback(null, null);
    }
  };
}
