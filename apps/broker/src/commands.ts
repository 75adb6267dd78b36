/**
 * Operator → device pushes (packages/queue/src/commands.ts): shared-attribute updates on
 * `v1/devices/me/attributes` and server-side RPC on `v1/devices/me/rpc/request/<id>`.
 * Delivered through aedes on the device's private namespace, so they reach only that
 * device, only if it subscribed, at the QoS it subscribed with. Pub/sub is not durable:
 * a device that is not connected (to this broker) does not get the push — as in
 * ThingsBoard, it can request its shared attributes, and an RPC times out.
 */
import type { Logger } from '@spms/log';
import { type DeviceCommand, deviceCommandChannel, rpcMqttBody } from '@spms/queue';
import type { Aedes } from 'aedes';
import type { Redis } from 'ioredis';
import { ATTRIBUTES, deviceTopic, RPC_REQUEST } from './topics.js';

export async function subscribeCommands(
  subscriber: Redis,
  broker: Aedes,
  prefix: string,
  logger: Logger,
  isConnected: (deviceId: string) => boolean,
): Promise<void> {
  const channel = deviceCommandChannel(prefix);
  subscriber.on('message', (ch: string, raw: string) => {
    if (ch !== channel) return;
    let cmd: DeviceCommand;
    try {
      cmd = JSON.parse(raw) as DeviceCommand;
    } catch {
      logger.warn({ channel }, 'ignoring a device command that is not JSON');
      return;
    }
    if (!isConnected(cmd.deviceId)) return; // another gateway (or nobody) holds the session
    let topic: string;
    let body: unknown;
    if (cmd.kind === 'attributes') {
      topic = ATTRIBUTES;
      body = cmd.payload;
    } else if (cmd.kind === 'rpc') {
      if (cmd.expiresAt < Date.now()) return;
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
        if (err) logger.warn({ err, deviceId: cmd.deviceId, kind: cmd.kind }, 'device command not delivered');
      },
    );
  });
  await subscriber.subscribe(channel);
}
