/**
 * TLS and WebSocket listeners, and the request/response side of the device API:
 * attribute requests, client-side RPC (time sync), shared-attribute and server-side RPC
 * pushes from the operator channel, and the device's RPC answer back on Redis.
 * Also the broker's own HTTP endpoints.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import {
  type DeviceCommand,
  rpcResponseChannel,
  rpcResponseKey,
  sendDeviceCommand,
  type TelemetryMessage,
} from '@spms/queue';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';
import { selfSignedCertificate, type TestCertificate } from './test-support/tls.js';

let h: Harness;
const run = promisify(execFile);
let certificate: TestCertificate;
let deviceId: string;
let otherId: string;
const TOKEN = 'token-0007-tls';

beforeAll(async () => {
  certificate = await selfSignedCertificate('spms-broker-tls-');
  h = await startHarness('broker_transports', {
    ...certificate.env,
    MQTT_WS_PORT: '0',
  });
  deviceId = await h.addDevice('0007_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
  otherId = await h.addDevice('0008_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0008-other' });
  await h.addDevice('0009_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0009-third' });
  await h.sql.query(
    `INSERT INTO device_attributes (device_id, scope, key, value) VALUES
       ($1, 'client', 'fw_version', '"1.0.3"'), ($1, 'client', 'model', '"esp32"'),
       ($1, 'shared', 'report_interval', '30'), ($2, 'shared', 'report_interval', '99')`,
    [deviceId, otherId],
  );
});
afterAll(async () => {
  await h?.close();
  certificate?.remove();
});

describe('listeners', () => {
  it('accepts telemetry over TLS (MQTT.js and mosquitto_pub) and over WebSocket', async () => {
    const since = await h.mark();
    const ca = readFileSync(certificate.cert);
    const tls = await h.connect({
      protocol: 'mqtts',
      username: TOKEN,
      ca,
      rejectUnauthorized: true,
      servername: 'localhost',
    });
    await tls.publishAsync('v1/devices/me/telemetry', "{'V':229.4}", { qos: 1 });
    await tls.endAsync();
    await run('mosquitto_pub', [
      ...['-h', 'localhost', '-p', String(h.gateway.tlsPort), '--cafile', certificate.cert],
      ...['-u', TOKEN, '-q', '1', '-t', 'v1/devices/me/telemetry', '-m', "{'1':'false'}"],
    ]);
    const ws = await h.connect({ protocol: 'ws', path: '/mqtt', username: TOKEN });
    await ws.publishAsync('v1/devices/me/telemetry', "{'2':'true'}", { qos: 1 });
    await ws.endAsync();
    const values = (await since())
      .filter((m): m is TelemetryMessage => m.kind === 'telemetry')
      .map((m) => m.entries[0]?.values);
    expect(values).toEqual([{ V: 229.4 }, { '1': 'false' }, { '2': 'true' }]);
  });

  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    const base = `http://127.0.0.1:${h.gateway.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { queue: 'ok', redis: 'ok', postgres: 'ok' } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/spms_broker_messages_accepted_total\{kind="telemetry"\} [1-9]/);
    expect(metrics).toContain('spms_broker_enqueue_seconds_bucket');
    expect(metrics).toMatch(/spms_ingest_queue_jobs\{state="waiting"\} [1-9]/);
  });
});

describe('requests and pushes', () => {
  it('stops pushing shared attributes after UNSUBSCRIBE', async () => {
    const c = await h.connect({ username: 'token-0009-third' });
    const thirdId = (await h.sql.query("SELECT id FROM devices WHERE name = '0009_MSAN'")).rows[0].id as string;
    const got: string[] = [];
    c.on('message', (_t, p) => got.push(p.toString()));
    await c.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    const api = new Redis(h.redis.url);
    const push = (n: number) =>
      sendDeviceCommand(
        api,
        h.redis.prefix,
        { kind: 'attributes', deviceId: thirdId, payload: { n }, expiresAt: Date.now() + 60_000 },
        { onlyIfLive: false, wakeup: true },
      );
    await push(1);
    await until(() => got.length === 1);
    await c.unsubscribeAsync('v1/devices/me/attributes');
    await push(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual(['{"n":1}']);
    api.disconnect();
    await c.endAsync();
  });

  it('answers an attribute request from device_attributes, ThingsBoard-style', async () => {
    const c = await h.connect({ username: TOKEN });
    await c.subscribeAsync('v1/devices/me/attributes/response/+');
    const answer = new Promise<[string, unknown]>((r) => c.once('message', (t, p) => r([t, JSON.parse(p.toString())])));
    await c.publishAsync(
      'v1/devices/me/attributes/request/1',
      '{"clientKeys":"fw_version","sharedKeys":"report_interval"}',
      {
        qos: 1,
      },
    );
    expect(await answer).toEqual([
      'v1/devices/me/attributes/response/1',
      { client: { fw_version: '1.0.3' }, shared: { report_interval: 30 } },
    ]);
    await c.endAsync();
  });

  it('answers getCurrentTime with the epoch milliseconds (client-side RPC)', async () => {
    const c = await h.connect({ username: TOKEN });
    await c.subscribeAsync('v1/devices/me/rpc/response/+');
    const answer = new Promise<[string, unknown]>((r) => c.once('message', (t, p) => r([t, JSON.parse(p.toString())])));
    const t0 = Date.now();
    await c.publishAsync('v1/devices/me/rpc/request/42', '{"method":"getCurrentTime","params":{}}', { qos: 1 });
    const [topic, body] = await answer;
    expect(topic).toBe('v1/devices/me/rpc/response/42');
    expect(body).toBeGreaterThanOrEqual(t0);
    await c.endAsync();
  });

  it('pushes shared attributes and server-side RPC to the target device only, and returns its answer', async () => {
    const target = await h.connect({ username: TOKEN });
    const other = await h.connect({ username: 'token-0008-other' });
    const topics = ['v1/devices/me/attributes', 'v1/devices/me/rpc/request/+'];
    await target.subscribeAsync(topics, { qos: 1 });
    await other.subscribeAsync(topics, { qos: 1 });
    const otherGot: string[] = [];
    other.on('message', (t) => otherGot.push(t));
    // mosquitto_sub as a third device, over TCP: sees nothing either.
    const sub = spawn('mosquitto_sub', [
      ...['-h', '127.0.0.1', '-p', String(h.gateway.mqttPort), '-u', 'token-0009-third', '-i', 'sub-0009'],
      ...['-t', 'v1/devices/me/attributes', '-t', 'v1/devices/me/rpc/request/+', '-v'],
    ]);
    let subOut = '';
    sub.stdout.on('data', (d) => (subOut += d));

    const received: [string, unknown][] = [];
    target.on('message', (t, p) => {
      received.push([t, JSON.parse(p.toString())]);
      if (t.startsWith('v1/devices/me/rpc/request/'))
        target.publish(`v1/devices/me/rpc/response/${t.split('/').at(-1)}`, '{"ok":true}', { qos: 1 });
    });
    const api = new Redis(h.redis.url);
    const listener = new Redis(h.redis.url);
    const wakeups: string[] = [];
    listener.on('message', (_ch, m) => wakeups.push(m));
    await listener.subscribe(rpcResponseChannel(h.redis.prefix));
    await new Promise((r) => setTimeout(r, 300)); // let mosquitto_sub's SUBSCRIBE land
    // What the API does: the answer's key first (the broker stores answers only where one is awaited).
    const answerKey = rpcResponseKey(h.redis.prefix, deviceId, 5);
    await api.set(answerKey, '', 'PX', 60_000);
    const send = (cmd: DeviceCommand) =>
      sendDeviceCommand(api, h.redis.prefix, cmd, { onlyIfLive: true, wakeup: true });
    const expiresAt = Date.now() + 60_000;
    expect((await send({ kind: 'attributes', deviceId, payload: { report_interval: 60 }, expiresAt })).result).toBe(
      'live',
    );
    await send({ kind: 'rpc', deviceId, requestId: 5, method: 'reboot', params: {}, expiresAt });
    await until(() => wakeups.length === 1);
    expect(received).toEqual([
      ['v1/devices/me/attributes', { report_interval: 60 }],
      ['v1/devices/me/rpc/request/5', { method: 'reboot', params: {} }],
    ]);
    expect(wakeups).toEqual([`${deviceId}:5`]);
    expect(JSON.parse((await api.get(answerKey)) ?? '')).toEqual({ ok: true });
    expect(otherGot).toEqual([]);
    expect(other.connected).toBe(true);
    expect(sub.exitCode).toBeNull(); // still connected: it would have printed a push
    sub.kill();
    expect(subOut).toBe('');
    api.disconnect();
    listener.disconnect();
    await target.endAsync();
    await other.endAsync();
  });
});
