/**
 * slim-client.ts must not change what aedes does: the same scenarios run against a plain
 * aedes broker whose clients are left as aedes builds them and one whose clients are slimmed
 * — QoS 0/1/2 delivery and acknowledgements, pipelined packets, wills, takeover, offline
 * queue of a persistent session, unsubscribe, keep-alive, protocol errors, topics named like
 * Object.prototype's members — and the slimmed clients must really be slimmed (a new aedes
 * version with another client layout fails here instead of silently costing memory).
 */
import { once } from 'node:events';
import { createServer, connect as netConnect, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackOutgoing } from './outgoing-queue.js';
import { slimClient } from './slim-client.js';
import { until } from './test-support/harness.js';

describe.each([
  ['as aedes builds them', false, false],
  ['slimmed', true, false],
  // As the gateway runs them: a clean session with nothing ever queued skips aedes' pass over its queue.
  ['slimmed, their outgoing queues tracked', true, true],
])('aedes clients %s', (_label, slim, tracked) => {
  let broker: Aedes;
  let server: Server;
  let port: number;
  const built: Client[] = [];
  const slimmed: boolean[] = [];
  const opened: MqttClient[] = [];
  /** Client ids whose outgoing queue aedes' CONNECT handling read. */
  const streamed: string[] = [];

  beforeAll(async () => {
    broker = await Aedes.createBroker({ connectTimeout: 5000 });
    const persistence = (broker as unknown as { persistence: { outgoingStream(c: { id: string }): unknown } })
      .persistence;
    if (tracked) trackOutgoing(persistence);
    const outgoingStream = persistence.outgoingStream;
    persistence.outgoingStream = function (c) {
      streamed.push(c.id);
      return outgoingStream.call(this, c);
    };
    server = createServer((conn) => {
      const client = broker.handle(conn);
      if (slim) slimmed.push(slimClient(client));
      built.push(client);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const c of opened) c.end(true);
    await new Promise<void>((r) => broker.close(() => r()));
    server.close();
  });

  async function open(clientId: string, opts: IClientOptions = {}): Promise<MqttClient> {
    const c = mqtt.connect({ host: '127.0.0.1', port, clientId, reconnectPeriod: 0, ...opts });
    opened.push(c);
    await once(c, 'connect');
    return c;
  }
  const received = (c: MqttClient) => {
    const got: { topic: string; payload: string; qos: number }[] = [];
    c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos }));
    return got;
  };

  it('delivers QoS 0, 1 and 2 (QoS 0 subscriptions get QoS 0), with PUBACK and PUBCOMP', async () => {
    const sub = await open('sub-1');
    const got = received(sub);
    await sub.subscribeAsync({ 'a/+': { qos: 1 }, b: { qos: 0 } });
    const pub = await open('pub-1');
    await pub.publishAsync('a/x', 'one', { qos: 1 }); // resolves on PUBACK
    await pub.publishAsync('a/y', 'two', { qos: 2 }); // on PUBCOMP
    await pub.publishAsync('b', 'three', { qos: 1 });
    await pub.publishAsync('a/z', 'four', { qos: 0 });
    await until(() => got.length === 4);
    expect(got.sort((x, y) => x.payload.localeCompare(y.payload))).toEqual([
      { topic: 'a/z', payload: 'four', qos: 0 },
      { topic: 'a/x', payload: 'one', qos: 1 },
      { topic: 'b', payload: 'three', qos: 0 },
      { topic: 'a/y', payload: 'two', qos: 2 },
    ]);
    if (slim) {
      // Nothing of finished() or aedes' bound listeners is left on the socket.
      const conn = (built[0] as unknown as { conn: NodeJS.EventEmitter }).conn;
      expect(conn.listenerCount('finish')).toBe(0);
      expect(conn.listeners('error').map((f) => f.name)).toEqual(['onConnError']);
    }
  });

  it('handles a CONNECT, SUBSCRIBE and PUBLISH sent in one write', async () => {
    const sock = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser();
    const packets: { cmd: string; topic?: string }[] = [];
    parser.on('packet', (p) => packets.push(p));
    sock.on('data', (d) => parser.parse(d));
    sock.write(
      Buffer.concat([
        mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'pipe' }),
        mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p', qos: 0 }] }),
        mqttPacket.generate({ cmd: 'publish', topic: 'p', payload: Buffer.from('x'), qos: 1, messageId: 2 }),
      ]),
    );
    await until(() => packets.some((p) => p.cmd === 'publish'));
    expect(packets.map((p) => p.cmd).sort()).toEqual(['connack', 'puback', 'publish', 'suback']);
    sock.destroy();
  });

  it('topics named like Object.prototype members are topics like any other', async () => {
    const sub = await open('proto-sub');
    const got = received(sub);
    await sub.subscribeAsync(['constructor', '__proto__', 'toString'], { qos: 1 });
    const pub = await open('proto-pub');
    for (const t of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) await pub.publishAsync(t, t);
    await until(() => got.length === 3);
    await sub.unsubscribeAsync('constructor');
    await pub.publishAsync('constructor', 'again');
    await pub.publishAsync('toString', 'last');
    await until(() => got.length === 4);
    expect(got.map((m) => m.payload)).toEqual(['__proto__', 'constructor', 'toString', 'last']);
  });

  it('publishes the will of a connection that drops, not of one that disconnects', async () => {
    const watcher = await open('will-watch');
    const got = received(watcher);
    await watcher.subscribeAsync('will/#', { qos: 1 });
    const dropped = await open('will-1', { will: { topic: 'will/1', payload: Buffer.from('gone'), qos: 1 } });
    const polite = await open('will-2', { will: { topic: 'will/2', payload: Buffer.from('gone'), qos: 1 } });
    await polite.endAsync();
    dropped.stream.destroy();
    await until(() => got.length === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(got.map((m) => m.topic)).toEqual(['will/1']);
  });

  it('closes the older connection when the same client id connects again', async () => {
    const first = await open('take');
    const closed = once(first, 'close');
    await open('take');
    await closed;
    await until(() => broker.connectedClients === Object.keys(broker.clients).length);
    expect(Object.keys(broker.clients).filter((id) => id === 'take')).toHaveLength(1);
  });

  it('keeps QoS 1 messages for a persistent session while it is away', async () => {
    const away = await open('persist', { clean: false });
    await away.subscribeAsync('q', { qos: 1 });
    await away.endAsync();
    const pub = await open('persist-pub');
    await pub.publishAsync('q', 'queued', { qos: 1 });
    const back = mqtt.connect({ host: '127.0.0.1', port, clientId: 'persist', clean: false, reconnectPeriod: 0 });
    opened.push(back);
    const got = received(back);
    await until(() => got.length === 1);
    await pub.publishAsync('q', 'live', { qos: 1 });
    await until(() => got.length === 2);
    expect(got).toEqual([
      { topic: 'q', payload: 'queued', qos: 1 },
      { topic: 'q', payload: 'live', qos: 1 },
    ]);
  });

  it('a clean session drops what its persistent session left queued; a later persistent one gets none of it', async () => {
    const away = await open('left', { clean: false });
    await away.subscribeAsync('lq', { qos: 1 });
    await away.endAsync();
    const pub = await open('left-pub');
    await pub.publishAsync('lq', 'stale', { qos: 1 }); // queued for 'left' while it is away
    const clean = mqtt.connect({ host: '127.0.0.1', port, clientId: 'left', clean: true, reconnectPeriod: 0 });
    opened.push(clean);
    const gotClean = received(clean);
    await once(clean, 'connect');
    await clean.endAsync();
    const back = mqtt.connect({ host: '127.0.0.1', port, clientId: 'left', clean: false, reconnectPeriod: 0 });
    opened.push(back);
    const got = received(back);
    await once(back, 'connect');
    // Anything left queued is written right after the CONNACK, before this subscription's messages.
    await back.subscribeAsync('marker', { qos: 1 });
    await pub.publishAsync('marker', 'after', { qos: 1 });
    await until(() => got.length > 0);
    expect([...gotClean, ...got].map((m) => m.payload)).toEqual(['after']);
    // The clean session whose id had something queued read its queue; one that never had, did not (tracked).
    expect(streamed.filter((id) => id === 'left')).toHaveLength(3);
    expect(streamed.includes('left-pub')).toBe(!tracked);
  });

  it('closes a connection silent past 1.5 × its keep-alive, and one that breaks the protocol', async () => {
    const errors: string[] = [];
    const onError = (_c: unknown, err: Error) => errors.push(err.message);
    broker.on('clientError', onError);
    const silent = netConnect(port, '127.0.0.1');
    silent.write(
      mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'ka', keepalive: 1 }),
    );
    silent.resume(); // its CONNACK read, so that 'close' comes
    const silentClosed = once(silent, 'close');
    const rude = netConnect(port, '127.0.0.1').resume();
    rude.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rude' }));
    await until(() => broker.clients.rude !== undefined);
    const rudeClosed = once(rude, 'close');
    rude.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'rude' })); // [MQTT-3.1.0-2]
    await rudeClosed;
    const t0 = Date.now();
    await silentClosed;
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(errors).toContain('keep alive timeout');
    await until(() => broker.clients.ka === undefined && broker.clients.rude === undefined);
    broker.off('clientError', onError);
  });

  it('forgets a client whose socket ends or closes', async () => {
    const c = await open('ends');
    const before = broker.connectedClients;
    c.stream.end();
    await until(() => broker.connectedClients === before - 1 && broker.clients.ends === undefined);
    const d = await open('closes');
    d.stream.destroy();
    await until(() => broker.clients.closes === undefined);
  });

  it('forgets a client whose socket the server destroys (no end from the peer), with its will', async () => {
    const watcher = await open('destroy-watch');
    const got = received(watcher);
    await watcher.subscribeAsync('will/destroyed', { qos: 1 });
    await open('destroyed', { will: { topic: 'will/destroyed', payload: Buffer.from('x'), qos: 1 } });
    (broker.clients.destroyed as unknown as { conn: { destroy(): void } }).conn.destroy();
    await until(() => broker.clients.destroyed === undefined && got.length === 1);
  });

  it.runIf(slim)('slimmed every client', () => {
    expect(slimmed.length).toBe(built.length);
    expect(slimmed.length).toBeGreaterThan(10);
    expect(slimmed.every(Boolean)).toBe(true);
  });
});
