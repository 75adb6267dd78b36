/**
 * One session per device, revocation, and the connectivity events that reach the queue
 * (connect, clean disconnect, connection lost, keep-alive timeout, session replaced,
 * coalesced PINGREQ activity).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { createLogger } from '@spms/log';
import type { ConnectivityMessage, IngestMessage } from '@spms/queue';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from './gateway.js';
import { type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
const basic = { type: 'MQTT_BASIC' as const, clientId: 'msan-0005', username: 'u-0005', password: 'secret-0005' };
let basicDevice: string;
let tokenDevice: string;

beforeAll(async () => {
  h = await startHarness('broker_sessions', { PING_ACTIVITY_INTERVAL_SEC: '1' });
  basicDevice = await h.addDevice('0005_MSAN', basic);
  tokenDevice = await h.addDevice('0006_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0006-xyz' });
});
afterAll(() => h?.close());

const events = (msgs: IngestMessage[], deviceId: string) =>
  msgs
    .filter((m): m is ConnectivityMessage => m.kind === 'connectivity' && m.deviceId === deviceId)
    .map((m) => m.event);

/** A bare MQTT 3.1.1 connection, for what MQTT.js would not do (stay silent, vanish). */
function rawConnect(opts: { clientId: string; username: string; keepalive?: number }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(h.gateway.mqttPort, '127.0.0.1');
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') p.returnCode === 0 ? resolve(sock) : reject(new Error(`connack ${p.returnCode}`));
    });
    sock.on('data', (d) => parser.parse(d));
    sock.on('error', reject);
    sock.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: opts.clientId,
        username: opts.username,
        keepalive: opts.keepalive ?? 60,
      }),
    );
  });
}

const closed = (c: { once(e: 'close', f: () => void): unknown }) =>
  new Promise<void>((r) => c.once('close', () => r()));

describe('one session per device', () => {
  it('a reconnect with the same client id replaces the old session without an offline event', async () => {
    const since = await h.mark();
    const first = await h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password });
    const firstClosed = closed(first);
    const second = await h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password });
    await firstClosed;
    await until(async () => events(await since(), basicDevice).length >= 3);
    expect(events(await since(), basicDevice)).toEqual(['connect', 'session_replaced', 'connect']);
    // The surviving session still works, and its clean DISCONNECT is recorded as such.
    await second.publishAsync('v1/devices/me/telemetry', "{'1':'true'}", { qos: 1 });
    await second.endAsync();
    await until(async () => events(await since(), basicDevice).includes('disconnect'));
    expect(events(await since(), basicDevice)).toEqual(['connect', 'session_replaced', 'connect', 'disconnect']);
  });

  it('a connection of the same device under another client id replaces the old one too', async () => {
    const since = await h.mark();
    const first = await h.connect({ clientId: 'modem-a', username: 'token-0006-xyz' });
    const firstClosed = closed(first);
    const second = await h.connect({ clientId: 'modem-b', username: 'token-0006-xyz' });
    await firstClosed;
    await second.publishAsync('v1/devices/me/telemetry', "{'V':230.1}", { qos: 1 });
    await until(async () => events(await since(), tokenDevice).length >= 3);
    expect(events(await since(), tokenDevice)).toEqual(['connect', 'session_replaced', 'connect']);
    expect(second.connected).toBe(true);
    await second.endAsync();
  });

  it('two devices sharing a fixed client id (a common firmware default) do not evict each other', async () => {
    await h.addDevice('0011_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0011-fixed' });
    const a = await h.connect({ clientId: 'ESP32Client', username: 'token-0006-xyz' });
    const b = await h.connect({ clientId: 'ESP32Client', username: 'token-0011-fixed' });
    await a.publishAsync('v1/devices/me/telemetry', "{'V':230.2}", { qos: 1 });
    await b.publishAsync('v1/devices/me/telemetry', "{'V':230.3}", { qos: 1 });
    expect([a.connected, b.connected]).toEqual([true, true]);
    await a.endAsync();
    await b.endAsync();
  });
});

describe('several gateway processes', () => {
  it('a device moving to another gateway closes its session on the first, as session_replaced', async () => {
    const other = await startGateway(h.config, {
      logger: createLogger({ name: 'gw2', level: 'silent', pretty: false }),
    });
    try {
      const since = await h.mark();
      const first = await h.connect({ clientId: 'modem-x', username: 'token-0006-xyz' });
      const firstClosed = closed(first);
      const second = await h.connect({ clientId: 'modem-x', username: 'token-0006-xyz', port: other.mqttPort });
      await firstClosed;
      await second.publishAsync('v1/devices/me/telemetry', "{'V':231.0}", { qos: 1 });
      await until(async () => events(await since(), tokenDevice).length >= 3);
      expect(events(await since(), tokenDevice).sort()).toEqual(['connect', 'connect', 'session_replaced']);
      expect(second.connected).toBe(true);
      await second.endAsync();
    } finally {
      await other.close();
    }
  });
});

describe('revocation', () => {
  it('closes the live session when credentials change, and the old password stops working', async () => {
    const since = await h.mark();
    const c = await h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password });
    const gone = closed(c);
    await h.setCredentials(basicDevice, { ...basic, password: 'rotated-0005' });
    await h.announceCredentialsChanged(basicDevice);
    await gone;
    await until(async () => events(await since(), basicDevice).includes('disconnect'));
    const last = (await since()).filter((m) => m.kind === 'connectivity' && m.deviceId === basicDevice).at(-1);
    expect(last).toMatchObject({ event: 'disconnect', detail: { by: 'server', reason: 'credentials_changed' } });
    await expect(
      h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password }),
    ).rejects.toMatchObject({ code: 5 });
    const again = await h.connect({ clientId: basic.clientId, username: basic.username, password: 'rotated-0005' });
    await again.endAsync();
  });
});

describe('connectivity events', () => {
  it('records a vanished connection as connection_lost and a silent one as keepalive_timeout', async () => {
    const since = await h.mark();
    const lost = await rawConnect({ clientId: 'raw-1', username: 'token-0006-xyz' });
    lost.destroy();
    await until(async () => events(await since(), tokenDevice).includes('connection_lost'));
    const silent = await rawConnect({ clientId: 'raw-2', username: 'token-0006-xyz', keepalive: 1 });
    await closed(silent); // [MQTT-3.1.2-24]: 1.5 × keep-alive without a packet
    await until(async () => events(await since(), tokenDevice).includes('keepalive_timeout'));
    expect(events(await since(), tokenDevice)).toEqual(['connect', 'connection_lost', 'connect', 'keepalive_timeout']);
  });

  it('coalesces PINGREQs into at most one activity message per interval', async () => {
    const since = await h.mark();
    const sock = await rawConnect({ clientId: 'raw-3', username: 'token-0006-xyz' });
    await new Promise((r) => setTimeout(r, 1100));
    for (let i = 0; i < 5; i++) sock.write(mqttPacket.generate({ cmd: 'pingreq' }));
    await until(async () => events(await since(), tokenDevice).includes('activity'));
    await new Promise((r) => setTimeout(r, 100));
    expect(events(await since(), tokenDevice)).toEqual(['connect', 'activity']);
    sock.write(mqttPacket.generate({ cmd: 'disconnect' }));
    await closed(sock);
  });
});
