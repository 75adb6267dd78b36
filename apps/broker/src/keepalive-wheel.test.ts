/**
 * The broker-wide keep-alive sweep (keepalive-wheel.ts) replacing aedes' per-client timer:
 * a device that keeps sending within its keep-alive stays connected well past 1.5 × its
 * keep-alive, and the same device falling silent is closed as keepalive_timeout.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { ConnectivityMessage } from '@spms/queue';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
let deviceId: string;

beforeAll(async () => {
  h = await startHarness('broker_keepalive');
  deviceId = await h.addDevice('0007_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0007-ka' });
});
afterAll(() => h?.close());

function connectRaw(keepalive: number): Promise<{ sock: Socket; pingresps: () => number }> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(h.gateway.mqttPort, '127.0.0.1');
    const parser = mqttPacket.parser();
    let pingresps = 0;
    parser.on('packet', (p) => {
      if (p.cmd === 'pingresp') pingresps++;
      if (p.cmd === 'connack')
        p.returnCode === 0
          ? resolve({ sock, pingresps: () => pingresps })
          : reject(new Error(`connack ${p.returnCode}`));
    });
    sock.on('data', (d) => parser.parse(d));
    sock.on('error', reject);
    sock.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: 'ka-1',
        username: 'token-0007-ka',
        keepalive,
      }),
    );
  });
}

it('keeps a device that pings within its keep-alive, and closes it once silent', async () => {
  const since = await h.mark();
  const { sock, pingresps } = await connectRaw(2);
  let closedAt = 0;
  sock.on('close', () => {
    closedAt = Date.now();
  });
  const ping = mqttPacket.generate({ cmd: 'pingreq' });
  // 11 pings 400 ms apart: 4.4 s, more than the 3 s a silent connection gets (keep-alive 2 s).
  let lastPingAt = 0;
  for (let i = 0; i < 11; i++) {
    sock.write(ping);
    lastPingAt = Date.now();
    await new Promise((r) => setTimeout(r, 400));
  }
  expect(closedAt).toBe(0);
  expect(pingresps()).toBeGreaterThanOrEqual(10);
  await until(() => closedAt > 0, 10_000);
  // [MQTT-3.1.2-24]: not before 1.5 × keep-alive of silence.
  expect(closedAt - lastPingAt).toBeGreaterThanOrEqual(3000);
  await until(async () =>
    (await since()).some(
      (m) => m.kind === 'connectivity' && m.deviceId === deviceId && m.event === 'keepalive_timeout',
    ),
  );
  const events = (await since())
    .filter((m): m is ConnectivityMessage => m.kind === 'connectivity' && m.deviceId === deviceId)
    .map((m) => m.event);
  expect(events).toEqual(['connect', 'keepalive_timeout']);
});
