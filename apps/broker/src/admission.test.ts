/**
 * Admission (client-guards.ts): a socket reaches aedes once it sent a whole first packet, and
 * at most MAX_CONNECTS_IN_PROGRESS CONNECTs are authenticated at once; the next ones wait in
 * line with their bytes unread and are admitted as slots free. Authentication is held up by
 * putting the broker's PostgreSQL behind a proxy that answers late.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { createTcpProxy, freePort, type TcpProxy } from '@spms/testing';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPacket, type Harness, startHarness, until } from './test-support/harness.js';

let h: Harness;
let proxy: TcpProxy;

beforeAll(async () => {
  proxy = createTcpProxy(await freePort(), { port: 5432 });
  await proxy.open();
  h = await startHarness('broker_admission', { MAX_CONNECTS_IN_PROGRESS: '1', CONNECT_TIMEOUT_MS: '60000' }, (url) =>
    Object.assign(new URL(url), { port: String(proxy.port) }).toString(),
  );
  for (const n of ['01', '02', '03', '04', '05'])
    await h.addDevice(`${n}_ADMIT`, { type: 'ACCESS_TOKEN', token: `token-admit-${n}` });
});
afterAll(async () => {
  await h?.close();
  await proxy?.cut();
});

async function metric(line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}

function openSocket(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(h.gateway.mqttPort, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
}

describe('admission of CONNECTs', () => {
  it('silent sockets and unfinished CONNECTs take no slot: a device connects past them', async () => {
    const silent = await openSocket();
    const partial = await openSocket();
    partial.write(Buffer.from([0x10, 0x20, 0x00, 0x04])); // a CONNECT of 34 bytes, 4 sent
    await until(async () => (await metric('spms_broker_pending_connections ')) === 2);
    const device = await h.connect({ clientId: 'admit-01', username: 'token-admit-01' });
    expect(device.connected).toBe(true);
    expect(await metric('spms_broker_admission_queue_connections ')).toBe(0);
    await device.endAsync();
    silent.destroy();
    partial.destroy();
    await until(async () => (await metric('spms_broker_pending_connections ')) === 0);
  });

  it('beyond MAX_CONNECTS_IN_PROGRESS a CONNECT waits in line and is answered once a slot frees', async () => {
    proxy.delayReplies(1500); // each authentication's query answers 1.5 s late
    try {
      const answered: string[] = [];
      const open = (n: string) =>
        h
          .connect({ clientId: `admit-${n}`, username: `token-admit-${n}`, connectTimeout: 30_000 })
          .then((c: MqttClient) => {
            answered.push(n);
            return c;
          });
      const first = open('02');
      // The first is being authenticated (handed to aedes, no CONNACK yet)…
      await until(async () => (await metric('spms_broker_pending_connections ')) === 1);
      const second = open('03');
      // …so the second waits in line, its CONNECT unread.
      await until(async () => (await metric('spms_broker_admission_queue_connections ')) === 1);
      expect(answered).toEqual([]);
      const clients = await Promise.all([first, second]);
      expect(answered).toEqual(['02', '03']);
      expect(await metric('spms_broker_admission_queue_connections ')).toBe(0);
      for (const c of clients) await c.endAsync();
    } finally {
      proxy.delayReplies(0);
    }
  });

  it('a device that hangs up while in line is dropped before any work is done for it', async () => {
    proxy.delayReplies(3000); // the first is authenticated for 3 s or more
    try {
      const accepted = await metric('spms_broker_connects_total{result="accepted"} ');
      const gone = await metric('spms_broker_connects_total{result="gone_before_connack"} ');
      let firstDone = false;
      const first = h
        .connect({ clientId: 'admit-04', username: 'token-admit-04', connectTimeout: 30_000 })
        .then((c) => {
          firstDone = true;
          return c;
        });
      await until(async () => (await metric('spms_broker_pending_connections ')) === 1);
      // A whole CONNECT, then FIN: it waits in line, paused, its bytes unread.
      const quitter = await openSocket();
      quitter.write(connectPacket('admit-05', 'token-admit-05'));
      await until(async () => (await metric('spms_broker_admission_queue_connections ')) === 1);
      quitter.end();
      // Dropped from the line (the sweep sees its FIN) while the first is still authenticated.
      await until(async () => (await metric('spms_broker_admission_queue_connections ')) === 0);
      expect(firstDone).toBe(false);
      const c = await first;
      await until(async () => (await metric('spms_broker_pending_connections ')) === 0);
      expect(await metric('spms_broker_admission_queue_connections ')).toBe(0);
      // Only the first was authenticated and accepted (each device is new: no cache answers).
      expect(await metric('spms_broker_connects_total{result="accepted"} ')).toBe(accepted + 1);
      // …and the one that hung up was never authenticated (no check that ends "gone before CONNACK").
      expect(await metric('spms_broker_connects_total{result="gone_before_connack"} ')).toBe(gone);
      await c.endAsync();
    } finally {
      proxy.delayReplies(0);
    }
  });
});
