/**
 * Sockets in a stage before MQTT — the TLS handshake, the WebSocket upgrade, the PROXY
 * header — count among the connections waiting for their CONNACK (MAX_PENDING_CONNECTIONS)
 * from their accept, so handshakes that never finish cannot hold every file descriptor; and a
 * TCP or TLS connection has one CONNECT_TIMEOUT_MS from its accept for all its stages, not
 * one per stage.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  gatewayMetric,
  type Harness,
  openTimedSocket,
  startHarness,
  type TimedSocket,
  until,
} from './test-support/harness.js';
import { v1 } from './test-support/proxy-headers.js';
import { selfSignedCertificate, type TestCertificate } from './test-support/tls.js';

const TOKEN = 'token-pre-mqtt-0012';
let certificate: TestCertificate;
let direct: Harness;
let proxied: Harness;
const open: Socket[] = [];

beforeAll(async () => {
  certificate = await selfSignedCertificate('spms-broker-pre-mqtt-');
  // A long connect timeout, so that silent sockets stay pending for as long as the test needs.
  direct = await startHarness('broker_pre_mqtt', {
    ...certificate.env,
    MQTT_WS_PORT: '0',
    CONNECT_TIMEOUT_MS: '60000',
    MAX_PENDING_CONNECTIONS: '3',
  });
  await direct.addDevice('0012_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
  proxied = await startHarness('broker_pre_mqtt_proxy', {
    ...certificate.env,
    MQTT_PROXY_PROTOCOL: 'true',
    CONNECT_TIMEOUT_MS: '4000',
    MAX_PENDING_CONNECTIONS: '3',
  });
});
afterAll(async () => {
  for (const s of open) s.destroy();
  await direct?.close();
  await proxied?.close();
  certificate?.remove();
});

async function openSocket(port: number): Promise<TimedSocket> {
  const sock = await openTimedSocket(port);
  open.push(sock);
  return sock;
}
const metric = gatewayMetric;
const pendingGauge = (h: Harness) => metric(h, 'spms_broker_pending_connections');
const maxPendingRefusals = (h: Harness) => metric(h, 'spms_broker_refusals_total{reason="max_pending"}');

describe('sockets before MQTT', () => {
  it('in the TLS handshake or before the WebSocket upgrade count against MAX_PENDING_CONNECTIONS; a finished handshake is counted once', async () => {
    await until(async () => (await pendingGauge(direct)) === 0);
    // Two TLS sockets that never send a ClientHello, one HTTP socket that never sends its upgrade.
    const stuck = [
      await openSocket(direct.gateway.tlsPort ?? 0),
      await openSocket(direct.gateway.tlsPort ?? 0),
      await openSocket(direct.gateway.wsPort ?? 0),
    ];
    await until(async () => (await pendingGauge(direct)) === 3);
    const refused0 = await maxPendingRefusals(direct);
    // The budget is spent: a new socket on any listener is closed at once.
    const extra = [
      await openSocket(direct.gateway.tlsPort ?? 0),
      await openSocket(direct.gateway.wsPort ?? 0),
      await openSocket(direct.gateway.mqttPort),
    ];
    await until(() => extra.every((s) => s.closedAt !== undefined));
    expect(await maxPendingRefusals(direct)).toBe(refused0 + 3);
    expect(stuck.every((s) => s.closedAt === undefined)).toBe(true);

    for (const s of stuck) s.destroy();
    await until(async () => (await pendingGauge(direct)) === 0);
    // A device over TLS and one over WebSocket: counted through their handshake and CONNECT,
    // then not at all (the raw socket is not left counted beside its TLS or WebSocket stream).
    const tlsDevice = await direct.connect({
      protocol: 'mqtts',
      clientId: 'tls-0012',
      username: TOKEN,
      rejectUnauthorized: false,
    });
    await tlsDevice.publishAsync('v1/devices/me/telemetry', '{"V":231}', { qos: 1 });
    const wsDevice = await direct.connect({ protocol: 'ws', clientId: 'ws-0012', username: TOKEN, path: '/mqtt' });
    await wsDevice.publishAsync('v1/devices/me/telemetry', '{"V":232}', { qos: 1 });
    expect(await pendingGauge(direct)).toBe(0);
    await tlsDevice.endAsync();
    await wsDevice.endAsync();
    expect(await maxPendingRefusals(direct)).toBe(refused0 + 3);
  });

  it('waiting for a PROXY header count too, and header, handshake and CONNECT share one CONNECT_TIMEOUT_MS', async () => {
    await until(async () => (await pendingGauge(proxied)) === 0);
    const tls = await openSocket(proxied.gateway.tlsPort ?? 0);
    const tcp = await openSocket(proxied.gateway.mqttPort);
    const third = await openSocket(proxied.gateway.mqttPort);
    await until(async () => (await pendingGauge(proxied)) === 3);
    const refused0 = await maxPendingRefusals(proxied);
    const extra = await openSocket(proxied.gateway.mqttPort);
    await until(() => extra.closedAt !== undefined);
    expect(await maxPendingRefusals(proxied)).toBe(refused0 + 1);
    third.destroy();

    // Each sends its header late (2.5 s of the 4 s), then nothing: no ClientHello, no CONNECT.
    // Timed per stage, the TLS socket would last 2.5 s + a 4 s handshake timeout and the TCP one
    // 2.5 s + 4 s to CONNECT; from the accept, both end 4 s (plus a sweep of up to 1 s) after it.
    // A younger socket waiting for its CONNECT just before them must not hold them up.
    await new Promise((r) => setTimeout(r, 2400));
    const younger = await openSocket(proxied.gateway.mqttPort);
    younger.write(v1('203.0.113.9'));
    await new Promise((r) => setTimeout(r, 100));
    tls.write(v1('203.0.113.7'));
    tcp.write(v1('203.0.113.8'));
    await until(() => tls.closedAt !== undefined && tcp.closedAt !== undefined, 15_000);
    for (const s of [tls, tcp]) {
      const lived = (s.closedAt as number) - s.openedAt;
      expect(lived).toBeGreaterThanOrEqual(3900);
      expect(lived).toBeLessThan(5900);
    }
    expect(await metric(proxied, 'spms_broker_refusals_total{reason="connect_timeout"}')).toBeGreaterThanOrEqual(2);
    await until(() => younger.closedAt !== undefined, 10_000);
  });
});
