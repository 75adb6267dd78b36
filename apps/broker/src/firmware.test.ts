/**
 * Firmware chunks over MQTT (ThingsBoard's v2/fw protocol), with real MQTT clients over TCP
 * against real gateways, PostgreSQL (the image in a large object) and Redis: a whole
 * download, ThingsBoard's answers at the edges, isolation between devices, and the download
 * slots shared by two broker processes.
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '@spms/log';
import { Redis } from 'ioredis';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, startGateway } from './gateway.js';
import { type Harness, startHarness } from './test-support/harness.js';

let h: Harness;
const image = randomBytes(2500);

beforeAll(async () => {
  h = await startHarness('broker_firmware', { FW_CHUNK_MAX_BYTES: '2048' });
});
afterAll(() => h?.close());

async function addFirmware(data: Buffer, version: string): Promise<string> {
  const { rows } = await h.sql.query<{ id: string }>(
    `INSERT INTO firmware (title, version, size, checksum_algorithm, checksum, sha256, data_oid)
     VALUES ('cabinet', $1, $2, 'SHA256', 'x', 'x', lo_from_bytea(0, $3)) RETURNING id`,
    [version, data.length, data],
  );
  return (rows[0] as { id: string }).id;
}

async function deviceWith(name: string, firmwareId: string | null): Promise<{ id: string; token: string }> {
  const token = `tok-${name}-${randomBytes(6).toString('hex')}`;
  const id = await h.addDevice(name, { type: 'ACCESS_TOKEN', token });
  await h.sql.query('UPDATE devices SET firmware_id = $1 WHERE id = $2', [firmwareId, id]);
  return { id, token };
}

interface Received {
  topic: string;
  payload: Buffer;
}

/** Connects, subscribes like a ThingsBoard OTA client and records every message. */
async function otaClient(token: string, port?: number): Promise<{ client: MqttClient; got: Received[] }> {
  const client = await h.connect({ username: token, ...(port ? { port } : {}) });
  const got: Received[] = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: Buffer.from(payload) }));
  await client.subscribeAsync(['v2/fw/response/+/chunk/+', 'v2/fw/error'], { qos: 1 });
  return { client, got };
}

async function chunk(
  c: { client: MqttClient; got: Received[] },
  requestId: number,
  n: number,
  size: string,
): Promise<Buffer> {
  const topic = `v2/fw/response/${requestId}/chunk/${n}`;
  const before = c.got.length;
  await c.client.publishAsync(`v2/fw/request/${requestId}/chunk/${n}`, size, { qos: 1 });
  await expect.poll(() => c.got.slice(before).some((m) => m.topic === topic)).toBe(true);
  return (c.got.slice(before).find((m) => m.topic === topic) as Received).payload;
}

const closed = (client: MqttClient) =>
  new Promise<void>((resolve) => (client.disconnected ? resolve() : client.once('close', () => resolve())));

describe('firmware chunks over MQTT', () => {
  it('serves the assigned image chunk by chunk: the last chunk short, past the end empty, nothing queued', async () => {
    const fw = await addFirmware(image, '2.0.0');
    const dev = await deviceWith('fw-a', fw);
    const c = await otaClient(dev.token);
    const since = await h.mark();
    const parts: Buffer[] = [];
    for (let n = 0; n < 3; n++) parts.push(await chunk(c, 7, n, '1024'));
    expect(parts.map((p) => p.length)).toEqual([1024, 1024, 452]);
    expect(Buffer.concat(parts).equals(image)).toBe(true);
    // Past the end: an empty answer, as ThingsBoard — however far past (its
    // OtaPackageDataCache returns an empty array for any index beyond the image).
    expect((await chunk(c, 7, 3, '1024')).length).toBe(0);
    expect((await chunk(c, 7, 4000000, '1024')).length).toBe(0);
    // An empty payload reuses the size this request id asked for.
    expect((await chunk(c, 7, 1, '')).equals(image.subarray(1024, 2048))).toBe(true);
    // Request ids are independent: another size on another id.
    expect((await chunk(c, 8, 2, '1000')).equals(image.subarray(2000, 2500))).toBe(true);
    // A device's chunk requests never reach the telemetry ingest queue.
    expect((await since()).filter((m) => m.kind !== 'connectivity')).toEqual([]);
    const metrics = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^spms_broker_firmware_chunks_served_total 7$/m);
    expect(metrics).toMatch(/^spms_broker_firmware_bytes_served_total 4024$/m);
    await c.client.endAsync();
  });

  it('whole image when no size was ever given (small images only); PAYLOAD_TOO_LARGE above the cap', async () => {
    const small = randomBytes(300);
    const dev = await deviceWith('fw-small', await addFirmware(small, '2.0.1-small'));
    const c = await otaClient(dev.token);
    expect((await chunk(c, 1, 0, '')).equals(small)).toBe(true);
    await c.client.endAsync();

    const big = await deviceWith('fw-big', await addFirmware(image, '2.0.2-big'));
    for (const size of ['4096', '']) {
      const b = await otaClient(big.token);
      b.client.publish('v2/fw/request/1/chunk/0', size, { qos: 1 }); // no PUBACK: the broker closes
      await closed(b.client);
      expect(b.got.map((m) => [m.topic, m.payload.toString()])).toEqual([['v2/fw/error', 'PAYLOAD_TOO_LARGE']]);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^spms_broker_firmware_requests_refused_total\{reason="chunk_too_large"\} 1$/m);
    expect(metrics).toMatch(/^spms_broker_firmware_requests_refused_total\{reason="whole_image_too_large"\} 1$/m);
  });

  it('a device without firmware gets NOT_FOUND on v2/fw/error and is disconnected (ThingsBoard)', async () => {
    const dev = await deviceWith('fw-none', null);
    const c = await otaClient(dev.token);
    c.client.publish('v2/fw/request/1/chunk/0', '1024', { qos: 1 }); // no PUBACK: the broker closes
    await closed(c.client);
    expect(c.got.map((m) => [m.topic, m.payload.toString()])).toEqual([['v2/fw/error', 'NOT_FOUND']]);
  });

  it("a device can neither subscribe to nor receive another device's chunks", async () => {
    const fw = await addFirmware(randomBytes(1500), '2.1.0');
    const a = await deviceWith('fw-iso-a', fw);
    const b = await deviceWith('fw-iso-b', fw);
    const ca = await otaClient(a.token);
    const cb = await otaClient(b.token);
    // MQTT.js rejects a SUBACK holding 0x80 and hands over the packet with the error.
    const suback = await cb.client
      .subscribeAsync(
        [`$spms/d/${a.id}/v2/fw/response/+/chunk/+`, '$spms/d/+/v2/fw/response/#', 'v2/fw/#', '#', 'v2/fw/response/#'],
        { qos: 1 },
      )
      .then(
        () => null,
        (err: { packet?: { granted: number[] } }) => err.packet,
      );
    expect(suback?.granted).toEqual([128, 128, 128, 128, 1]);
    // A downloads with the same request id B would use; B gets nothing of it.
    expect((await chunk(ca, 1, 0, '1024')).length).toBe(1024);
    expect((await chunk(ca, 1, 1, '1024')).length).toBe(476);
    // B's own request is answered on its own session only.
    expect((await chunk(cb, 1, 1, '1024')).length).toBe(476);
    expect(cb.got.filter((m) => m.topic.startsWith('v2/fw/response/'))).toHaveLength(1);
    expect(ca.got.filter((m) => m.topic.startsWith('v2/fw/response/'))).toHaveLength(2);
    await Promise.all([ca.client.endAsync(), cb.client.endAsync()]);
  });

  it('a request id or chunk that is not a number is acknowledged and dropped; a bad size closes the connection', async () => {
    const dev = await deviceWith('fw-bad', await addFirmware(randomBytes(100), '2.2.0'));
    const c = await otaClient(dev.token);
    for (const topic of ['v2/fw/request/abc/chunk/0', 'v2/fw/request/1/chunk/x', 'v2/fw/request/1/chunk/-1'])
      await c.client.publishAsync(topic, '64', { qos: 1 }); // PUBACK, as ThingsBoard acks unknown topics
    expect((await chunk(c, 2, 0, '64')).length).toBe(64); // still connected, and only this one answered
    expect(c.got).toHaveLength(1);
    c.client.publish('v2/fw/request/2/chunk/1', 'sixty-four', { qos: 1 }); // no PUBACK: the broker closes
    await closed(c.client);
    expect(c.got).toHaveLength(1);
  });
});

describe('download slots across two broker processes', () => {
  let g1: Gateway;
  let g2: Gateway;
  let redis: Redis;
  let prefix: string;

  beforeAll(async () => {
    prefix = `${h.redis.prefix}:slots`;
    const logger = createLogger({ name: 'broker-fw-test', level: 'silent', pretty: false });
    const config = {
      ...h.config,
      REDIS_PREFIX: prefix,
      FW_MAX_CONCURRENT_DOWNLOADS: 1,
      FW_DOWNLOAD_IDLE_MS: 3000,
      FW_ADMISSION_WAIT_MS: 30_000,
    };
    g1 = await startGateway(config, { logger });
    g2 = await startGateway(config, { logger });
    redis = new Redis(h.redis.url);
  });
  afterAll(async () => {
    redis?.disconnect();
    await g1?.close();
    await g2?.close();
  });

  it('a second device waits while the first holds the only slot, and is served once it finishes or idles', async () => {
    const fw = await addFirmware(image, '3.0.0');
    const a = await deviceWith('fw-slot-a', fw);
    const b = await deviceWith('fw-slot-b', fw);
    const c = await deviceWith('fw-slot-c', fw);
    const ca = await otaClient(a.token, g1.mqttPort);
    const cb = await otaClient(b.token, g2.mqttPort);
    const waiting = (id: string) => redis.zscore(`${prefix}:fw:waiting`, id);

    const parts = [await chunk(ca, 1, 0, '1024')]; // A holds the slot (through broker 1)
    await cb.client.publishAsync('v2/fw/request/1/chunk/0', '1024', { qos: 1 }); // B asks through broker 2
    await expect.poll(() => waiting(b.id)).not.toBeNull();
    parts.push(await chunk(ca, 1, 1, '1024')); // A keeps its slot for every further chunk
    expect(cb.got).toHaveLength(0);
    expect(await waiting(b.id)).not.toBeNull();
    parts.push(await chunk(ca, 1, 2, '1024')); // A's last chunk frees the slot
    expect(Buffer.concat(parts).equals(image)).toBe(true);
    await expect.poll(() => cb.got.length).toBe(1);
    expect(cb.got[0]?.topic).toBe('v2/fw/response/1/chunk/0');
    expect(cb.got[0]?.payload.equals(image.subarray(0, 1024))).toBe(true);

    // B now holds the slot and stops asking: C (broker 1) is served once B has idled out.
    const cc = await otaClient(c.token, g1.mqttPort);
    await cc.client.publishAsync('v2/fw/request/5/chunk/2', '1024', { qos: 1 });
    await expect.poll(() => waiting(c.id)).not.toBeNull();
    expect(cc.got).toHaveLength(0);
    await expect.poll(() => cc.got.length).toBe(1);
    expect(cc.got[0]?.payload.equals(image.subarray(2048))).toBe(true);
    expect(await redis.zrange(`${prefix}:fw:slots`, 0, -1)).toEqual([]); // C took its last chunk
    await Promise.all([ca.client.endAsync(), cb.client.endAsync(), cc.client.endAsync()]);
  });

  it('a device that drops mid-download resumes on another broker with its slot, ahead of a waiting device', async () => {
    const fw = await addFirmware(image, '3.2.0');
    const a = await deviceWith('fw-resume-a', fw);
    const b = await deviceWith('fw-resume-b', fw);
    const first = await otaClient(a.token, g1.mqttPort);
    const parts = [await chunk(first, 9, 0, '1024')];
    first.client.stream.destroy(); // the 4G link drops
    const cb = await otaClient(b.token, g1.mqttPort);
    await cb.client.publishAsync('v2/fw/request/1/chunk/0', '1024', { qos: 1 });
    await expect.poll(() => redis.zscore(`${prefix}:fw:waiting`, b.id)).not.toBeNull();
    const again = await otaClient(a.token, g2.mqttPort); // back, through the other broker
    parts.push(await chunk(again, 9, 1, '1024'));
    expect(cb.got).toHaveLength(0);
    parts.push(await chunk(again, 9, 2, '1024'));
    expect(Buffer.concat(parts).equals(image)).toBe(true);
    await expect.poll(() => cb.got.length).toBe(1);
    await chunk(cb, 1, 1, '1024');
    await chunk(cb, 1, 2, '1024');
    await Promise.all([again.client.endAsync(), cb.client.endAsync()]);
  });

  it('waiting devices get the slot in the order they first asked, whichever broker they are on', async () => {
    const fw = await addFirmware(image, '3.1.0');
    const a = await deviceWith('fw-fifo-a', fw);
    const b = await deviceWith('fw-fifo-b', fw);
    const c = await deviceWith('fw-fifo-c', fw);
    const ca = await otaClient(a.token, g1.mqttPort);
    const cb = await otaClient(b.token, g2.mqttPort);
    const cc = await otaClient(c.token, g1.mqttPort);
    const waiting = (d: { id: string }) => redis.zscore(`${prefix}:fw:waiting`, d.id);
    await chunk(ca, 1, 0, '1024'); // A holds the slot
    await cb.client.publishAsync('v2/fw/request/1/chunk/0', '1024', { qos: 1 }); // B first (broker 2)…
    await expect.poll(() => waiting(b)).not.toBeNull();
    await cc.client.publishAsync('v2/fw/request/1/chunk/0', '1024', { qos: 1 }); // …then C (broker 1, A's)
    await expect.poll(() => waiting(c)).not.toBeNull();
    await chunk(ca, 1, 1, '1024');
    await chunk(ca, 1, 2, '1024'); // A done: B's turn, though C waits on the broker that freed the slot
    await expect.poll(() => cb.got.length).toBe(1);
    expect(cc.got).toHaveLength(0);
    expect(await waiting(c)).not.toBeNull();
    await chunk(cb, 1, 1, '1024');
    await chunk(cb, 1, 2, '1024'); // B done: C's turn
    await expect.poll(() => cc.got.length).toBe(1);
    await chunk(cc, 1, 1, '1024');
    await chunk(cc, 1, 2, '1024');
    expect(await redis.zrange(`${prefix}:fw:slots`, 0, -1)).toEqual([]);
    await Promise.all([ca.client.endAsync(), cb.client.endAsync(), cc.client.endAsync()]);
  });
});
