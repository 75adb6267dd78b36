/**
 * Device publishes, driven as the fleet does: real MQTT clients over TCP against a real
 * gateway, Redis and PostgreSQL. Every accepted message must be in the ingest queue exactly
 * once per PUBACK; every bad input gets the protocol-correct refusal while another device
 * keeps publishing.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import type { TelemetryMessage } from '@spms/queue';
import { parseTelemetry } from '@spms/telemetry';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';

const fixtures = new URL('../../../fixtures/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));
const firmware = load('mqtt-firmware.json') as { topic: string; messages: { payload: string }[] };
const forms = load('thingsboard-forms.json') as { forms: { payload: string }[] };

let h: Harness;
let fieldDevice: string;
let tokenDevice: string;
const basic = { type: 'MQTT_BASIC' as const, clientId: 'msan-0003', username: 'u-0003', password: 'p4ssw0rd-0003' };

beforeAll(async () => {
  h = await startHarness('broker_publish');
  fieldDevice = await h.addDevice('0003_MSAN', basic);
  tokenDevice = await h.addDevice('0004_MSAN', { type: 'ACCESS_TOKEN', token: 'tok-0004-abcdef' });
});
afterAll(() => h?.close());

function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())),
  );
}

/** Publishes and reports whether the PUBACK came or the broker closed the connection. */
function publishOutcome(client: MqttClient, topic: string, payload: string | Buffer): Promise<'puback' | 'closed'> {
  return new Promise((resolve) => {
    client.once('close', () => resolve('closed'));
    client.publish(topic, payload, { qos: 1 }, (err) => {
      if (!err) resolve('puback');
    });
  });
}

describe('accepted publishes', () => {
  it('puts every firmware and ThingsBoard vector in the queue exactly once per PUBACK', async () => {
    const device = await h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password });
    const since = await h.mark();
    const sent = [...firmware.messages.map((m) => m.payload), ...forms.forms.map((f) => f.payload)];
    const t0 = Date.now();
    for (const payload of sent) await publish(device, 'v1/devices/me/telemetry', payload);
    const all = await since();
    const telemetry = all.filter((m): m is TelemetryMessage => m.kind === 'telemetry');
    expect(telemetry).toHaveLength(sent.length);
    sent.forEach((payload, i) => {
      const msg = telemetry[i] as TelemetryMessage;
      const parsed = parseTelemetry(payload);
      if (!parsed.ok) throw new Error(parsed.error);
      expect(msg.entries).toEqual(parsed.entries);
      expect(msg.deviceId).toBe(fieldDevice);
      expect(msg.transport).toBe('mqtt');
      expect(msg.receivedAt).toBeGreaterThanOrEqual(t0);
    });
    expect(new Set(telemetry.map((m) => m.id)).size).toBe(sent.length);
    // The firmware's line message keeps its exact value for the worker to interpret.
    expect(telemetry[2]?.entries).toEqual([{ values: { '3': 'false' } }]);
    // Keys SPMS does not interpret are kept as sent, as ThingsBoard stores them.
    const s2 = await h.mark();
    await publish(device, 'v1/devices/me/telemetry', "{'V':229.4,rssi:-71,'fw':'1.2.0','8':1}");
    const extra = (await s2()).find((m): m is TelemetryMessage => m.kind === 'telemetry');
    expect(extra?.entries).toEqual([{ values: { V: 229.4, rssi: -71, fw: '1.2.0', '8': 1 } }]);
    await device.endAsync();
  });

  it('accepts an access token as username (mosquitto_pub, QoS 0 and 1) and client attributes', async () => {
    // Async: the gateway runs in this process, a synchronous child would block it.
    const run = promisify(execFile);
    const since = await h.mark();
    for (const qos of ['0', '1']) {
      await run('mosquitto_pub', [
        ...['-h', '127.0.0.1', '-p', String(h.gateway.mqttPort), '-u', 'tok-0004-abcdef', '-q', qos],
        ...['-t', 'v1/devices/me/telemetry', '-m', `{'V':22${qos}.5}`],
      ]);
    }
    await run('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(h.gateway.mqttPort), '-u', 'tok-0004-abcdef', '-q', '1'],
      ...['-t', 'v1/devices/me/attributes', '-m', '{"fw_version":"1.2.0"}'],
    ]);
    await until(async () => (await since()).filter((m) => m.kind !== 'connectivity').length === 3);
    const mine = (await since()).filter((m) => m.deviceId === tokenDevice);
    expect(mine.filter((m) => m.kind === 'telemetry').map((m) => (m as TelemetryMessage).entries)).toEqual([
      [{ values: { V: 220.5 } }],
      [{ values: { V: 221.5 } }],
    ]);
    expect(mine.find((m) => m.kind === 'attributes')).toMatchObject({ values: { fw_version: '1.2.0' } });
    expect(mine.filter((m) => m.kind === 'connectivity').map((m) => m.kind === 'connectivity' && m.event)).toContain(
      'connect',
    );
  });
});

describe('refused publishes, while another device keeps publishing', () => {
  const bad: { name: string; topic?: string; payload: string | Buffer; outcome: 'puback' | 'closed' }[] = [
    {
      name: 'foreign topic (acked and dropped, as ThingsBoard)',
      topic: 'v1/devices/other/telemetry',
      payload: '{"V":1}',
      outcome: 'puback',
    },
    { name: 'oversized payload', payload: `{"x":"${'a'.repeat(70_000)}"}`, outcome: 'closed' },
    { name: 'garbage bytes', payload: Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80]), outcome: 'closed' },
    { name: 'non-UTF-8', payload: Buffer.from([0x7b, 0x27, 0x31, 0x27, 0x3a, 0xc3, 0x28, 0x7d]), outcome: 'closed' },
    { name: 'invalid JSON', payload: "{'V':", outcome: 'closed' },
    { name: 'line 9', payload: "{'9':'true'}", outcome: 'closed' },
    { name: 'voltage "abc"', payload: '{"V":"abc"}', outcome: 'closed' },
    { name: 'ts in seconds', payload: '{"ts":1733150000,"values":{"1":true}}', outcome: 'closed' },
    {
      name: 'far-future ts',
      payload: `{"ts":${Date.now() + 365 * 86_400_000},"values":{"1":true}}`,
      outcome: 'closed',
    },
    { name: 'deep nesting', payload: `{"x":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`, outcome: 'closed' },
    {
      name: 'too many keys',
      payload: JSON.stringify(Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]))),
      outcome: 'closed',
    },
    { name: 'huge key', payload: JSON.stringify({ ['k'.repeat(5000)]: 1 }), outcome: 'closed' },
  ];

  for (const c of bad) {
    it(`${c.name}: ${c.outcome === 'closed' ? 'connection closed without PUBACK' : 'PUBACK, nothing queued'}`, async () => {
      const good = await h.connect({ username: 'tok-0004-abcdef', clientId: `good-${Math.random()}` });
      const offender = await h.connect({
        clientId: basic.clientId,
        username: basic.username,
        password: basic.password,
      });
      const since = await h.mark();
      const goodDone = (async () => {
        for (let i = 0; i < 5; i++) await publish(good, 'v1/devices/me/telemetry', `{'V':23${i}.0}`);
      })();
      const outcome = await publishOutcome(offender, c.topic ?? 'v1/devices/me/telemetry', c.payload);
      await goodDone;
      expect(outcome).toBe(c.outcome);
      const after = await since();
      expect(after.filter((m) => m.kind === 'telemetry' && m.deviceId === fieldDevice)).toHaveLength(0);
      expect(after.filter((m) => m.kind === 'telemetry' && m.deviceId === tokenDevice)).toHaveLength(5);
      expect(good.connected).toBe(true);
      await offender.endAsync(true);
      await good.endAsync();
    });
  }

  it('closes a connection whose packet header declares more than the maximum, before buffering it', async () => {
    const { connect } = await import('node:net');
    const good = await h.connect({ username: 'tok-0004-abcdef' });
    const raw = connect(h.gateway.mqttPort, '127.0.0.1');
    await new Promise((r) => raw.once('connect', r));
    const closed = new Promise((r) => raw.once('close', r));
    // CONNECT (access token), then a PUBLISH announcing 10 MB of which only 1 KB follows.
    await h.addDevice('0099_MSAN', { type: 'ACCESS_TOKEN', token: 'tok-0099-big' });
    const user = Buffer.from('tok-0099-big');
    const body = Buffer.concat([
      Buffer.from([0, 4, 77, 81, 84, 84, 4, 0x82, 0, 60, 0, 3, 0x62, 0x69, 0x67]),
      Buffer.from([0, user.length]),
      user,
    ]);
    raw.write(Buffer.concat([Buffer.from([0x10, body.length]), body]));
    await new Promise((r) => raw.once('data', r)); // CONNACK: authenticated, so the size check is what closes it
    raw.write(Buffer.concat([Buffer.from([0x32, 0x80, 0xad, 0xe2, 0x04]), Buffer.alloc(1024, 0x41)]));
    await closed;
    await publish(good, 'v1/devices/me/telemetry', "{'V':230.0}");
    const metrics = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/spms_broker_refusals_total\{reason="payload_too_large"\} [1-9]/);
    await good.endAsync();
  });

  it('survives random bytes on the wire, before and after CONNECT', async () => {
    const { connect } = await import('node:net');
    const { randomBytes } = await import('node:crypto');
    const good = await h.connect({ username: 'tok-0004-abcdef', clientId: 'fuzz-witness' });
    for (let i = 0; i < 30; i++) {
      const raw = connect(h.gateway.mqttPort, '127.0.0.1');
      raw.on('error', () => {});
      await new Promise((r) => raw.once('connect', r));
      const gone = new Promise((r) => raw.once('close', r));
      if (i % 2 === 1) {
        // a valid CONNECT of an unknown device first, then garbage
        raw.write(Buffer.from([0x10, 0x11, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 5, 0x66, 0x75, 0x7a, 0x7a, 0x31]));
      }
      raw.write(randomBytes(64 + i * 97));
      raw.end();
      await Promise.race([gone, new Promise((r) => setTimeout(r, 500))]);
      raw.destroy();
    }
    await publish(good, 'v1/devices/me/telemetry', "{'V':229.9}");
    expect(good.connected).toBe(true);
    await good.endAsync();
  });

  it('grants SUBACK 0x80 for "#" and foreign filters, the device API filters as asked', async () => {
    const device = await h.connect({ username: 'tok-0004-abcdef' });
    // MQTT.js rejects a SUBACK holding 0x80 and hands over the packet with the error.
    const suback = await device
      .subscribeAsync({
        '#': { qos: 0 },
        'v1/devices/me/telemetry': { qos: 1 },
        'v1/devices/me/attributes': { qos: 1 },
        'v1/devices/me/rpc/request/+': { qos: 0 },
      })
      .then(
        () => null,
        (err: { packet?: { granted: number[] } }) => err.packet,
      );
    expect(suback?.granted).toEqual([128, 128, 1, 0]);
    expect(device.connected).toBe(true);
    await device.endAsync();
  });

  it('never delivers one device telemetry or attributes to another device', async () => {
    const listener = await h.connect({ username: 'tok-0004-abcdef' });
    await listener.subscribeAsync(['v1/devices/me/attributes', 'v1/devices/me/rpc/request/+']);
    const received: string[] = [];
    listener.on('message', (topic) => received.push(topic));
    const talker = await h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password });
    await publish(talker, 'v1/devices/me/attributes', '{"a":1}');
    await publish(talker, 'v1/devices/me/rpc/request/7', '{"method":"getCurrentTime"}');
    await publish(talker, 'v1/devices/me/telemetry', "{'V':230.0}");
    await new Promise((r) => setTimeout(r, 200));
    expect(received).toEqual([]);
    await talker.endAsync();
    await listener.endAsync();
  });
});
