/**
 * "Acknowledged means recorded", end to end over real MQTT to the real gateway and worker:
 * - a device sending hostile payloads (ts in seconds, far-future ts, deep nesting, too many
 *   keys, a huge key) between 20 neighbours' line changes gets its refusal alone, and every
 *   neighbour's acknowledged change is recorded exactly once;
 * - a job with one invalid message (queued directly, as a buggy older gateway would) has the
 *   others recorded and that one dead-lettered with device, raw message and reason;
 * - replaying a fixed dead letter (twice) through the API records it exactly once.
 */
import { createLogger } from '@spms/log';
import { INGEST_JOB, INGEST_QUEUE, type IngestMessage, ingestQueueOptions } from '@spms/queue';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { adminAuth, testEnv } from '../../apps/api/src/routes/users/access-fixtures.js';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

const logger = createLogger({ name: 'e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const NEIGHBOURS = 20;

let stack: E2eStack;
let api: FastifyInstance;
let queue: Queue;
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startE2eStack('e2e_hostile', logger);
  api = await buildApp(loadApiConfig(testEnv(stack.db, stack.redis)));
  const opts = ingestQueueOptions(stack.redis.prefix);
  queue = new Queue(INGEST_QUEUE, { connection: { url: stack.redis.url }, prefix: opts.prefix });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await queue?.close();
  await api?.close();
  await stack?.close();
});

async function connect(name: string, register: boolean): Promise<{ id: string; client: MqttClient }> {
  const creds = { clientId: `${name}-cid`, username: `${name}-user`, password: `${name}-pw` };
  const id = register ? await stack.addMqttDevice(name, creds) : '';
  const client = mqtt.connect({
    host: '127.0.0.1',
    port: stack.gateway.mqttPort,
    protocolVersion: 4,
    ...creds,
    reconnectPeriod: 0,
  });
  clients.push(client);
  await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
  return { id, client };
}

async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** PUBACK, or the gateway closed the connection (its refusal under INVALID_PAYLOAD_ACTION=disconnect). */
function publishOutcome(client: MqttClient, payload: string): Promise<'puback' | 'closed'> {
  return new Promise((resolve) => {
    client.once('close', () => resolve('closed'));
    client.publish('v1/devices/me/telemetry', payload, { qos: 1 }, (err) => {
      if (!err) resolve('puback');
    });
  });
}

const lineEventsOf = async (deviceId: string) =>
  (
    await stack.sql.query<{ n: number; ids: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT msg_id)::int AS ids FROM line_events WHERE device_id = $1',
      [deviceId],
    )
  ).rows[0];

describe('hostile payloads beside 20 neighbours', () => {
  it('refuses each hostile message alone; every neighbour acknowledged change is recorded exactly once', async () => {
    const neighbours = await Promise.all(Array.from({ length: NEIGHBOURS }, (_, i) => connect(`nb${i}`, true)));
    const hostileCreds = 'hostile';
    let hostile = await connect(hostileCreds, true);
    const hostileId = hostile.id;
    const hostilePayloads = [
      '{"ts":1733150000,"values":{"1":false}}',
      `{"ts":${Date.now() + 365 * 86_400_000},"values":{"1":false}}`,
      `{"x":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
      JSON.stringify(Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, i]))),
      JSON.stringify({ ['k'.repeat(5000)]: 1 }),
    ];
    const acked = new Map<string, number>();
    for (const [round, payload] of hostilePayloads.entries()) {
      // The neighbours' line changes and the hostile message interleave on the wire.
      const changes = neighbours.map(({ id, client }, i) =>
        publishOutcome(client, `{'${(round % 8) + 1}':'${(round + i) % 2 === 0 ? 'false' : 'true'}'}`).then((o) => {
          if (o === 'puback') acked.set(id, (acked.get(id) ?? 0) + 1);
          return o;
        }),
      );
      const refusal = await publishOutcome(hostile.client, payload);
      expect(await Promise.all(changes)).toEqual(Array(NEIGHBOURS).fill('puback'));
      expect(refusal, `hostile payload ${round}`).toBe('closed');
      hostile = await connect(hostileCreds, false); // the device reconnects, as the firmware does
    }
    for (const { id } of neighbours) {
      const want = acked.get(id);
      expect(want).toBe(hostilePayloads.length);
      await until(async () => (await lineEventsOf(id))?.n === want);
      expect(await lineEventsOf(id)).toEqual({ n: want, ids: want });
    }
    expect((await lineEventsOf(hostileId))?.n).toBe(0);
    const dead = await stack.sql.query('SELECT count(*)::int AS n FROM dead_letters');
    expect(dead.rows[0].n).toBe(0); // refused at the gateway, never queued
  });

  it('dead-letters one invalid message of a queued job alone, and replays a fixed one exactly once', async () => {
    const a = await stack.addMqttDevice('dl_a', { clientId: 'a', username: 'a', password: 'a-pw' });
    const b = await stack.addMqttDevice('dl_b', { clientId: 'b', username: 'b', password: 'b-pw' });
    const now = Date.now();
    const msg = (id: string, deviceId: string, ts?: number): IngestMessage => ({
      kind: 'telemetry',
      id,
      deviceId,
      receivedAt: now,
      transport: 'mqtt',
      entries: [{ ...(ts === undefined ? {} : { ts }), values: { 2: false } }],
    });
    const bad = msg('old-gw-bad', b, 1733150000);
    await queue.add(INGEST_JOB, { v: 1, messages: [msg('old-gw-ok-1', a), bad, msg('old-gw-ok-2', b)] });
    const letter = await until(async () => {
      const { rows } = await stack.sql.query('SELECT id::text, device_id, reason, payload FROM dead_letters');
      return rows[0];
    });
    expect(letter).toMatchObject({ device_id: b, payload: bad });
    expect(letter.reason).toMatch(/ts 1733150000 looks like seconds/);
    await until(async () => (await lineEventsOf(a))?.n === 1 && (await lineEventsOf(b))?.n === 1);

    // The replay of this one is refused (still invalid) …
    const refused = await api.inject({
      method: 'POST',
      url: `/api/dead-letters/${letter.id}/replay`,
      headers: adminAuth,
    });
    expect(refused.statusCode).toBe(422);
    // … while a fixed one (recorded under older, stricter rules: valid today) is replayed.
    const fixed = msg('fixed-1', b, now - 60_000);
    const { rows } = await stack.sql.query<{ id: string }>(
      `INSERT INTO dead_letters (queue, job_id, job_name, message_id, device_id, received_at, reason, payload)
       VALUES ('ingest', 'old-job', 'batch', $1, $2, now(), 'older rule', $3::jsonb) RETURNING id::text`,
      [fixed.id, b, JSON.stringify(fixed)],
    );
    for (let i = 0; i < 2; i++) {
      const res = await api.inject({
        method: 'POST',
        url: `/api/dead-letters/${rows[0]?.id}/replay`,
        headers: adminAuth,
      });
      expect(res.statusCode).toBe(200);
    }
    const replayed = async () =>
      (await stack.sql.query('SELECT count(*)::int AS n FROM line_events WHERE msg_id = $1', [fixed.id])).rows[0].n;
    await until(async () => (await replayed()) === 1);
    // Both replays are processed (the queue drains), and the message is recorded once.
    await until(async () => (await queue.getJobCounts('wait', 'active', 'delayed')).wait === 0);
    await until(async () => (await queue.getJobCounts('active')).active === 0);
    expect(await replayed()).toBe(1);
  });
});
