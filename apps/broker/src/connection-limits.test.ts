/**
 * What an unauthenticated connection may hold: silent sockets end after CONNECT_TIMEOUT_MS
 * on TCP, TLS (handshake) and WebSocket; a WebSocket message is capped at one MQTT packet;
 * a CONNECT is capped at MAX_CONNECT_PACKET_BYTES; at most MAX_PENDING_CONNECTIONS sockets
 * wait for their CONNACK, and honest devices connect again once they are gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { gatewayMetric, type Harness, openTimedSocket, startHarness, until } from './test-support/harness.js';
import { selfSignedCertificate, type TestCertificate } from './test-support/tls.js';

const TOKEN = 'token-limits-0011';
let certificate: TestCertificate;
let timeouts: Harness;
let pending: Harness;

beforeAll(async () => {
  certificate = await selfSignedCertificate('spms-broker-limits-');
  timeouts = await startHarness('broker_limits_timeouts', {
    CONNECT_TIMEOUT_MS: '500',
    MAX_PAYLOAD_BYTES: '1024',
    ...certificate.env,
    MQTT_WS_PORT: '0',
  });
  // A long connect timeout, so that silent sockets stay pending for as long as the test needs.
  pending = await startHarness('broker_limits_pending', { CONNECT_TIMEOUT_MS: '60000', MAX_PENDING_CONNECTIONS: '3' });
  await pending.addDevice('0011_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
});
afterAll(async () => {
  await timeouts?.close();
  await pending?.close();
  certificate?.remove();
});

const openSocket = openTimedSocket;
const metric = gatewayMetric;

describe('silent connections', () => {
  it('are closed after CONNECT_TIMEOUT_MS on TCP, on TLS (no handshake) and on WebSocket (no CONNECT)', async () => {
    const tcp = await openSocket(timeouts.gateway.mqttPort);
    const tls = await openSocket(timeouts.gateway.tlsPort ?? 0);
    const ws = new WebSocket(`ws://127.0.0.1:${timeouts.gateway.wsPort}/mqtt`, 'mqtt');
    let wsClosed = false;
    ws.on('close', () => {
      wsClosed = true;
    });
    ws.on('error', () => {});
    await until(() => ws.readyState === WebSocket.OPEN || wsClosed);
    // aedes' default was 30 s and Node's TLS handshake timeout 120 s: bounded well below both.
    await until(() => tcp.closedAt !== undefined && tls.closedAt !== undefined && wsClosed, 10_000);
    expect(await metric(timeouts, 'spms_broker_refusals_total{reason="connect_timeout"}')).toBeGreaterThanOrEqual(2);
  });
});

describe('WebSocket message size', () => {
  it('closes with 1009 (message too big) beyond one MQTT packet, instead of buffering it', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${timeouts.gateway.wsPort}/mqtt`, 'mqtt');
    ws.on('error', () => {});
    let code: number | undefined;
    ws.on('close', (c) => {
      code = c;
    });
    await until(() => ws.readyState === WebSocket.OPEN);
    ws.send(Buffer.alloc(512 * 1024, 0x30));
    await until(() => code !== undefined);
    expect(code).toBe(1009);
  });
});

describe('connections waiting for their CONNACK', () => {
  it('a CONNECT declaring more than 16 KiB is cut before it is buffered', async () => {
    const sock = await openSocket(pending.gateway.mqttPort);
    // CONNECT, remaining length 100,000 (varint a0 8d 06), then a trickle of bytes.
    sock.write(Buffer.from([0x10, 0xa0, 0x8d, 0x06, 0x00, 0x04]));
    await until(() => sock.closedAt !== undefined);
    expect(await metric(pending, 'spms_broker_refusals_total{reason="payload_too_large"}')).toBeGreaterThanOrEqual(1);
  });

  it('beyond MAX_PENDING_CONNECTIONS new sockets are closed; honest devices connect once they are gone', async () => {
    await until(async () => (await metric(pending, 'spms_broker_pending_connections')) === 0);
    const silent = [];
    for (let i = 0; i < 3; i++) silent.push(await openSocket(pending.gateway.mqttPort));
    await until(async () => (await metric(pending, 'spms_broker_pending_connections')) === 3);
    const extra = await openSocket(pending.gateway.mqttPort);
    await until(() => extra.closedAt !== undefined);
    expect(await metric(pending, 'spms_broker_refusals_total{reason="max_pending"}')).toBeGreaterThanOrEqual(1);
    expect(silent.every((s) => s.closedAt === undefined)).toBe(true);

    for (const s of silent) s.destroy();
    await until(async () => (await metric(pending, 'spms_broker_pending_connections')) === 0);
    // Same source address as the refused sockets: there is no per-address cap.
    const device = await pending.connect({ clientId: 'honest-0011', username: TOKEN });
    await device.publishAsync('v1/devices/me/telemetry', '{"V":231}', { qos: 1 });
    await device.endAsync();
  });
});
