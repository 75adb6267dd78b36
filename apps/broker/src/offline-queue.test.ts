/**
 * A persistent session (clean=false) gets its unacknowledged QoS 1 pushes again after a
 * reconnect [MQTT-4.4.0-1] — on ThingsBoard's topic names, never on the broker's internal
 * per-device namespace (`$spms/d/<deviceId>/…`).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { type RpcRequestCommand, sendDeviceCommand } from '@spms/queue';
import { Redis } from 'ioredis';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
let deviceId: string;
const TOKEN = 'token-offline-0007';

beforeAll(async () => {
  h = await startHarness('broker_offline_queue');
  deviceId = await h.addDevice('0007_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
});
afterAll(() => h?.close());

/** A raw MQTT 3.1.1 connection that records every packet and never acknowledges a PUBLISH. */
async function rawSession(): Promise<{ sock: Socket; packets: Packet[] }> {
  const sock = netConnect(h.gateway.mqttPort, '127.0.0.1');
  const packets: Packet[] = [];
  const parser = mqttPacket.parser();
  parser.on('packet', (p) => packets.push(p));
  sock.on('data', (d) => parser.parse(d));
  sock.on('error', () => {});
  sock.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: false,
      clientId: 'offline-modem',
      username: TOKEN,
      keepalive: 60,
    }),
  );
  await until(() => packets.some((p) => p.cmd === 'connack'));
  return { sock, packets };
}

it('replays a queued RPC request on v1/devices/me/rpc/request/<id> after a clean=false reconnect', async () => {
  const first = await rawSession();
  first.sock.write(
    mqttPacket.generate({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: 'v1/devices/me/rpc/request/+', qos: 1 }],
    }),
  );
  await until(() => first.packets.some((p) => p.cmd === 'suback'));

  const pub = new Redis(h.redis.url);
  const cmd: RpcRequestCommand = {
    kind: 'rpc',
    deviceId,
    requestId: 41,
    method: 'setRelay',
    params: { on: true },
    expiresAt: Date.now() + 60_000,
  };
  await sendDeviceCommand(pub, h.redis.prefix, cmd, { onlyIfLive: true, wakeup: true });
  pub.disconnect();
  await until(() => first.packets.some((p) => p.cmd === 'publish'));
  const live = first.packets.find((p) => p.cmd === 'publish');
  expect(live && 'topic' in live ? live.topic : null).toBe('v1/devices/me/rpc/request/41');

  // The modem loses its link before acknowledging: the message stays queued for the session.
  first.sock.destroy();
  const second = await rawSession();
  const connack = second.packets.find((p) => p.cmd === 'connack');
  expect(connack && 'sessionPresent' in connack ? connack.sessionPresent : null).toBe(true);
  await until(() => second.packets.some((p) => p.cmd === 'publish'));
  const replayed = second.packets.filter((p) => p.cmd === 'publish');
  expect(replayed.map((p) => ('topic' in p ? p.topic : null))).toEqual(['v1/devices/me/rpc/request/41']);
  const body = replayed[0] && 'payload' in replayed[0] ? String(replayed[0].payload) : '';
  expect(JSON.parse(body)).toEqual({ method: 'setRelay', params: { on: true } });
  second.sock.destroy();
});
