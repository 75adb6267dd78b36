/**
 * Operator → device pushes (packages/queue/src/commands.ts): shared-attribute updates on
 * `v1/devices/me/attributes` and server-side RPC on `v1/devices/me/rpc/request/<id>`.
 *
 * The commands wait in the device's Redis list; this broker takes them (only while its
 * session is the recorded owner, session-claims.ts) when the session is claimed or
 * subscribes, on a wake-up on deviceCommandChannel, and when its inbox lists the device
 * (every sweep). A lost wake-up therefore delays a command by at most a sweep. They are
 * delivered through aedes on the device's private namespace, so they reach only that
 * device, only if it subscribed, at the QoS it subscribed with. An attribute push reaches
 * the session live when it is taken (not subscribed: dropped, the device reads its
 * attributes); an RPC waits until the session subscribes to RPC requests or it expires.
 *
 * A persistent RPC (docs/rpc.md) is a device_rpc row; its list entry is a copy. It goes out
 * only after this broker moved the row QUEUED → SENT (any other copy is then dropped), with
 * the row's method and params; the device's PUBACK makes it DELIVERED (persistent-delivery.ts).
 * When a session is claimed and the device is marked as having waiting RPCs, copies of them
 * are put back into its list from the database first (a Redis flush loses none).
 */
import { requeueRpcs } from '@spms/device-auth';
import { type DeviceCommand, deviceCommandChannel, rpcMqttBody, takeDeviceCommands } from '@spms/queue';
import type { Aedes } from 'aedes';
import type { Redis } from 'ioredis';
import type { GatewayClient, GatewayContext } from './context.js';
import { createPersistentDelivery } from './persistent-delivery.js';
import type { ClaimFound } from './session-claims.js';
import { ATTRIBUTES, deviceTopic, RPC_REQUEST } from './topics.js';

export interface CommandDelivery {
  /** Takes and delivers the device's waiting commands if its session is here and owned. */
  drain(deviceId: string): void;
  /** The session was claimed; `waiting` is what its claim found (session-claims.ts). */
  claimed(client: GatewayClient, waiting: ClaimFound): void;
}

/** Whether the session subscribed to server-side RPC (only the literal filter is allowed, authorize-subscribe.ts). */
const wantsRpc = (client: GatewayClient, deviceId: string) =>
  !!(client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions?.[
    deviceTopic(deviceId, `${RPC_REQUEST}+`)
  ];

export async function startCommandDelivery(
  ctx: GatewayContext,
  broker: Aedes,
  redis: Redis,
  subscriber: Redis,
  ownerOf: (client: GatewayClient) => string | undefined,
): Promise<CommandDelivery> {
  const prefix = ctx.config.REDIS_PREFIX;
  const channel = deviceCommandChannel(prefix);
  const persistent = createPersistentDelivery(ctx);

  function deliver(cmd: DeviceCommand): void {
    let topic: string;
    let body: unknown;
    if (cmd.kind === 'attributes') {
      topic = ATTRIBUTES;
      body = cmd.payload;
    } else if (cmd.kind === 'rpc') {
      topic = RPC_REQUEST + cmd.requestId;
      body = rpcMqttBody(cmd);
    } else return;
    broker.publish(
      {
        cmd: 'publish',
        topic: deviceTopic(cmd.deviceId, topic),
        payload: Buffer.from(JSON.stringify(body)),
        qos: 1,
        retain: false,
        dup: false,
      },
      (err?: Error) => {
        ctx.metrics.commands.inc({ kind: cmd.kind, result: err ? 'failed' : 'delivered' });
        if (err) ctx.logger.warn({ err, deviceId: cmd.deviceId, kind: cmd.kind }, 'device command not delivered');
      },
    );
  }

  /** Sessions a drain reached before their claim was answered (see drain). */
  const missedBeforeClaim = new WeakSet<GatewayClient>();
  function drain(deviceId: string): void {
    const client = ctx.devices.get(deviceId);
    if (!client || client.closed || !client.spms) return;
    const owner = ownerOf(client);
    if (!owner) {
      // Not claimed yet: a wake-up or inbox entry handled before the claim's answer (both
      // arrive on the same connection, this one's handler may run first) is remembered, and
      // the session is drained once claimed even when the claim found its list empty.
      missedBeforeClaim.add(client);
      return;
    }
    const expired = (n: number) => ctx.metrics.commands.inc({ kind: 'any', result: 'expired' }, n);
    takeDeviceCommands(redis, prefix, deviceId, owner, wantsRpc(client, deviceId), expired).then(
      async (cmds) => {
        // Published in the order taken: one connection answers the takes in order (a
        // persistent RPC waits for its claim, so the ones after it wait too).
        for (const cmd of cmds ?? []) {
          if (cmd.kind === 'rpc' && cmd.rpcId) await persistent.deliver(client, cmd);
          else deliver(cmd);
        }
      },
      (err: unknown) => ctx.logger.debug({ err, deviceId }, 'device commands not taken; retried on the next sweep'),
    );
  }

  subscriber.on('message', (ch: string, deviceId: string) => {
    if (ch === channel && ctx.devices.has(deviceId)) drain(deviceId);
  });
  await subscriber.subscribe(channel);
  const drainClient = (c: unknown) => {
    const id = (c as GatewayClient).spms?.device.id;
    if (id) drain(id);
  };
  /**
   * Clean sessions whose claim found no command waiting and missed no drain. Their take when
   * ready is skipped: a command sent since the claim names this broker's inbox (taken on its
   * wake-up or sweep), so the list had nothing for that take (one Redis round trip per connect
   * of a storm). A clean=false session is always taken again when ready: its restored
   * subscriptions may want RPCs that a take before them left in the list.
   */
  const emptyAtClaim = new WeakSet<GatewayClient>();
  function claimed(client: GatewayClient, waiting: ClaimFound): void {
    const id = client.spms?.device.id;
    if (!id) return;
    const missed = missedBeforeClaim.delete(client);
    if (waiting.commands || missed) {
      emptyAtClaim.delete(client);
      drain(id);
    } else if (client.clean) emptyAtClaim.add(client);
    if (!waiting.rpcs) return;
    // Copies of waiting persistent RPCs the list lacks (the device was marked as having some).
    requeueRpcs(ctx.pool, redis, prefix, id, { onlyIfLive: false, wakeup: ctx.config.PUBSUB_WAKEUPS }).then(
      (n) => n > 0 && drain(id),
      (err: unknown) => ctx.logger.warn({ err, deviceId: id }, 'persistent RPCs not requeued; the RPC sweeper will'),
    );
  }
  // A clean=false session's subscriptions are restored before it is ready: what its claim
  // found (RPCs left in the list by an attributes-only take) is taken again now. A clean
  // session whose claim is still on its way (the usual case: aedes gets it ready first) is
  // left to the claim's answer, which drains it if commands were waiting; one sent since
  // names this broker's inbox. Taking now would be deferred to that answer anyway (one
  // Redis script per connect of a storm, for nothing).
  broker.on('clientReady', (c: unknown) => {
    const client = c as GatewayClient;
    const id = client.spms?.device.id;
    if (!id || emptyAtClaim.has(client)) return;
    if (client.clean && !ownerOf(client)) return;
    drain(id);
  });
  broker.on('subscribe', (_subs, c) => drainClient(c));
  return { drain, claimed };
}
