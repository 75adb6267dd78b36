import { connect as netConnect, type Socket } from 'node:net';
import {
  Command,
  IPv4Address,
  IPv4ProxyAddress,
  IPv6Address,
  IPv6ProxyAddress,
  TransportProtocol,
  V2ProxyProtocol,
} from 'proxy-protocol-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { createWebSocketStream } from 'ws';
import { readProxyHeader } from './proxy-protocol.js';
import { type Harness, startHarness, until } from './test-support/harness.js';
import { connackVia, hasHaproxy, refusals, startHaproxy, tcp as tcpTo, v1, v2 } from './test-support/proxy-headers.js';

describe('PROXY header framing', () => {
  it('reads v1 and v2 (IPv4, IPv6, LOCAL), waits for the rest, refuses what is not a header', () => {
    const mqttBytes = Buffer.from([0x10, 0x00]);
    expect(readProxyHeader(Buffer.concat([v1('203.0.113.7'), mqttBytes]))).toEqual({
      state: 'complete',
      bytes: v1('203.0.113.7').length,
      address: '203.0.113.7',
    });
    const h2 = v2([198, 51, 100, 9]);
    expect(readProxyHeader(Buffer.concat([h2, mqttBytes]))).toEqual({
      state: 'complete',
      bytes: h2.length,
      address: '198.51.100.9',
    });
    const six = Buffer.from(
      new V2ProxyProtocol(
        Command.PROXY,
        TransportProtocol.STREAM,
        new IPv6ProxyAddress(
          IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]),
          40000,
          IPv6Address.createFrom([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
          1883,
        ),
      ).build(),
    );
    expect(readProxyHeader(six)).toEqual({ state: 'complete', bytes: six.length, address: '2001:db8::42' });
    const local = Buffer.from(
      new V2ProxyProtocol(
        Command.LOCAL,
        TransportProtocol.STREAM,
        new IPv4ProxyAddress(IPv4Address.createWithEmptyAddress(), 0, IPv4Address.createWithEmptyAddress(), 0),
      ).build(),
    );
    expect(readProxyHeader(local)).toEqual({ state: 'complete', bytes: local.length, address: undefined });
    expect(readProxyHeader(v1('203.0.113.7').subarray(0, 20))).toEqual({ state: 'incomplete' });
    expect(readProxyHeader(h2.subarray(0, 14))).toEqual({ state: 'incomplete' });
    expect(readProxyHeader(Buffer.from('PRO'))).toEqual({ state: 'incomplete' });
    expect(readProxyHeader(Buffer.from([0x10, 0x0c, 0x00, 0x04])).state).toBe('invalid');
    expect(readProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)).state).toBe('invalid');
    expect(readProxyHeader(Buffer.from('PROXY TCP4 not-an-address 10.0.0.2 1 2\r\n')).state).toBe('invalid');
  });
});

const tcp = (h: Harness, port = h.gateway.mqttPort, localAddress?: string) => tcpTo(port, localAddress);

describe('a broker behind a balancer sending PROXY headers', () => {
  let h: Harness;
  const open: Socket[] = [];
  beforeAll(async () => {
    // The shipped defaults but for the header, the WebSocket port and a small failure budget.
    h = await startHarness('broker_proxy_protocol', {
      MQTT_PROXY_PROTOCOL: 'true',
      MQTT_WS_PORT: '0',
      AUTH_FAILURES_PER_IP: '2',
    });
    await h.addDevice('P1_MSAN', { type: 'MQTT_BASIC', clientId: 'p1', username: 'user-p1', password: 'pass-p1' });
  });
  afterAll(async () => {
    for (const s of open) s.destroy();
    await h?.close();
  });
  const refusalsFor = (reason: string) => refusals(h.gateway.httpPort, reason);

  it("spends the failure budget of the header's address, not the balancer's, and records it", async () => {
    const attempt = async (header: Buffer, password: string) => {
      const s = await tcp(h);
      open.push(s);
      const code = await connackVia(s, header, 'p1', password);
      s.destroy();
      return code;
    };
    expect(await attempt(v1('203.0.113.7'), 'wrong-1')).toBe(5);
    expect(await attempt(v2([203, 0, 113, 7]), 'wrong-2')).toBe(5);
    // 203.0.113.7 has spent its 2 failures: refused before checking, even with the right password.
    expect(await attempt(v1('203.0.113.7'), 'pass-p1')).toBe(3);
    // Another device address behind the same balancer is not locked out.
    const mark = await h.mark();
    expect(await attempt(v2([198, 51, 100, 9]), 'pass-p1')).toBe(0);
    await until(async () => (await mark()).some((m) => m.kind === 'connectivity'));
    const connected = (await mark()).find((m) => m.kind === 'connectivity');
    expect(connected && 'detail' in connected ? connected.detail?.ip : undefined).toBe('198.51.100.9');
  });

  it('closes a connection without a header before MQTT sees it, and counts it', async () => {
    const before = await refusalsFor('proxy_header');
    const s = await tcp(h);
    open.push(s);
    await expect(connackVia(s, Buffer.alloc(0), 'p1', 'pass-p1')).rejects.toThrow('closed before CONNACK');
    expect(await refusalsFor('proxy_header')).toBe(before + 1);
  });

  it('takes the header on the WebSocket port before the upgrade request', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.gateway.wsPort}/mqtt`, 'mqtt', {
      createConnection: () => {
        const s = netConnect(h.gateway.wsPort ?? 0, '127.0.0.1');
        // Written before the HTTP request ws sends: both may leave in one segment.
        s.write(v1('192.0.2.44'));
        open.push(s);
        return s;
      },
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const mark = await h.mark();
    const stream = createWebSocketStream(ws);
    expect(await connackVia(stream, Buffer.alloc(0), 'p1', 'pass-p1')).toBe(0);
    await until(async () => (await mark()).some((m) => m.kind === 'connectivity'));
    const connected = (await mark()).find((m) => m.kind === 'connectivity');
    expect(connected && 'detail' in connected ? connected.detail?.ip : undefined).toBe('192.0.2.44');
    ws.terminate();
  });
});

describe('an upgrade request that never finishes, on the WebSocket port', () => {
  const harnesses: Harness[] = [];
  afterAll(async () => {
    for (const h of harnesses) await h.close();
  });

  it.each([
    ['behind PROXY headers', 'true'],
    ['without', 'false'],
  ])(
    'is closed after CONNECT_TIMEOUT_MS (%s)',
    async (_label, proxy) => {
      const h = await startHarness(`broker_ws_slow_${proxy}`, {
        MQTT_PROXY_PROTOCOL: proxy,
        MQTT_WS_PORT: '0',
        CONNECT_TIMEOUT_MS: '300',
      });
      harnesses.push(h);
      const s = await tcp(h, h.gateway.wsPort ?? 0);
      const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
      s.on('error', () => undefined);
      // A header (when expected) and the start of a request, never its end: before the fix a
      // socket behind PROXY headers stayed open for good, one without for Node's 30 s check.
      s.write(
        Buffer.concat([
          proxy === 'true' ? v1('203.0.113.50') : Buffer.alloc(0),
          Buffer.from('GET /mqtt HTTP/1.1\r\nHost: x\r\n'),
        ]),
      );
      await closed;
    },
    15_000,
  );
});

// Skipped on a developer machine without Debian's haproxy; in CI (CI set) a missing one fails.
describe.skipIf(!hasHaproxy && !process.env.CI)('behind a real HAProxy with send-proxy-v2', () => {
  let h: Harness;
  let haproxy: { port: number; stop(): void } | undefined;
  beforeAll(async () => {
    h = await startHarness('broker_proxy_haproxy', { MQTT_PROXY_PROTOCOL: 'true' });
    await h.addDevice('P2_MSAN', { type: 'MQTT_BASIC', clientId: 'p2', username: 'user-p2', password: 'pass-p2' });
    haproxy = await startHaproxy(h.gateway.mqttPort);
  });
  afterAll(async () => {
    haproxy?.stop();
    await h?.close();
  });

  it("records the device's own source address, not HAProxy's", async () => {
    const mark = await h.mark();
    const s = await tcp(h, haproxy?.port, '127.0.0.23');
    expect(await connackVia(s, Buffer.alloc(0), 'p2', 'pass-p2')).toBe(0);
    await until(async () => (await mark()).some((m) => m.kind === 'connectivity'));
    const connected = (await mark()).find((m) => m.kind === 'connectivity');
    expect(connected && 'detail' in connected ? connected.detail?.ip : undefined).toBe('127.0.0.23');
    s.destroy();
  });
});
