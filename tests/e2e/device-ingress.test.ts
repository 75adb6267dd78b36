/**
 * One door for every device (packages/telemetry/src/ingress.ts): the same payload sent by
 * the same device over MQTT (the broker) and over HTTP (the API's device API) puts the same
 * message in the ingest queue — only `id`, `receivedAt` and `transport` differ — and a
 * payload one transport refuses the other refuses too. Real broker and real API on one
 * database and one Redis prefix; nothing consumes the queue, so it is read back as written.
 */
import { readFileSync } from 'node:fs';
import type { IngestMessage } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { testEnv } from '../../apps/api/src/routes/users/access-fixtures.js';
import { type Harness, startHarness } from '../../apps/broker/src/test-support/harness.js';

const fixtures = new URL('../../fixtures/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));
const mqttFirmware = load('mqtt-firmware.json') as { messages: { payload: string }[] };
const httpFirmware = load('http-firmware.json') as { bodies: { body: string }[] };
const forms = load('thingsboard-forms.json') as { forms: { payload: string }[] };

const TOKEN = 'ingress-parity-token-01';
let h: Harness;
let api: FastifyInstance;
let deviceId: string;

beforeAll(async () => {
  h = await startHarness('e2e_ingress');
  deviceId = await h.addDevice('0031_MSAN', { type: 'ACCESS_TOKEN', token: TOKEN });
  api = await buildApp(loadApiConfig(testEnv(h.db, h.redis)));
});

afterAll(async () => {
  await api?.close();
  await h?.close();
});

function publish(client: MqttClient, topic: string, payload: string): Promise<'puback' | 'closed'> {
  return new Promise((resolve) => {
    const onClose = () => resolve('closed');
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1 }, (err) => {
      client.off('close', onClose);
      resolve(err ? 'closed' : 'puback');
    });
  });
}

const post = (kind: 'telemetry' | 'attributes', payload: string) =>
  api.inject({
    method: 'POST',
    url: `/api/v1/${TOKEN}/${kind}`,
    payload,
    headers: { 'content-type': 'application/json' },
  });

/** What a transport may not decide: everything but the message id, receive time and transport. */
function content(m: IngestMessage) {
  const { id, receivedAt, transport, ...rest } = m;
  expect(id).toMatch(/^[0-9a-z]{23}$/);
  expect(Math.abs(receivedAt - Date.now())).toBeLessThan(60_000);
  return { rest, transport };
}

/** What was queued since `mark`, without the broker's own connect/disconnect records. */
async function sent(since: () => Promise<IngestMessage[]>): Promise<IngestMessage[]> {
  return (await since()).filter((m) => m.kind !== 'connectivity');
}

/** Sends each payload over MQTT then over HTTP; returns the messages queued by each. */
async function both(kind: 'telemetry' | 'attributes', payloads: string[]) {
  const client = await h.connect({ username: TOKEN });
  const since = await h.mark();
  for (const p of payloads) expect(await publish(client, `v1/devices/me/${kind}`, p)).toBe('puback');
  const overMqtt = await sent(since);
  const mid = await h.mark();
  for (const p of payloads) expect((await post(kind, p)).statusCode).toBe(200);
  const overHttp = await sent(mid);
  await client.endAsync();
  return { overMqtt, overHttp };
}

describe('the same payload over MQTT and HTTP', () => {
  it('queues the same telemetry message (firmware vectors of both transports, every ThingsBoard form)', async () => {
    const recent = Date.now() - 5_000;
    const payloads = [
      ...mqttFirmware.messages.map((m) => m.payload),
      ...httpFirmware.bodies.map((b) => b.body),
      ...forms.forms.map((f) => f.payload),
      `{'ts':${recent},'values':{'4':'false'}}`,
      `[{"ts":${recent},"values":{"V":"231.5"}},{"5":1}]`,
    ];
    const { overMqtt, overHttp } = await both('telemetry', payloads);
    expect(overMqtt).toHaveLength(payloads.length);
    expect(overHttp).toHaveLength(payloads.length);
    overMqtt.forEach((m, i) => {
      const a = content(m);
      const b = content(overHttp[i] as IngestMessage);
      expect(a.transport).toBe('mqtt');
      expect(b.transport).toBe('http');
      expect(b.rest).toEqual(a.rest);
      expect(a.rest).toMatchObject({ deviceId, kind: 'telemetry' });
    });
  });

  it('queues the same client-attributes message', async () => {
    const payloads = [
      `{'fw_state':'DOWNLOADING','fw_progress':40}`,
      '{"sim":{"iccid":"8944","rssi":-71},"uptime":3600}',
    ];
    const { overMqtt, overHttp } = await both('attributes', payloads);
    expect(overMqtt).toHaveLength(payloads.length);
    overMqtt.forEach((m, i) => {
      const a = content(m);
      const b = content(overHttp[i] as IngestMessage);
      expect([a.transport, b.transport]).toEqual(['mqtt', 'http']);
      expect(b.rest).toEqual(a.rest);
      expect(a.rest).toMatchObject({ deviceId, kind: 'attributes' });
    });
  });

  it('refuses the same payloads on both (MQTT closes without PUBACK, HTTP answers 400) and queues nothing', async () => {
    const refused: Array<['telemetry' | 'attributes', string]> = [
      ['telemetry', '{"ts":1733150000,"values":{"1":true}}'], // seconds
      ['telemetry', "{'9':'true'}"], // no line 9
      ['telemetry', '{"V":"high"}'],
      ['telemetry', 'not json'],
      ['attributes', '[1,2]'],
      ['attributes', `{"${'k'.repeat(300)}":1}`],
    ];
    const since = await h.mark();
    for (const [kind, payload] of refused) {
      const res = await post(kind, payload);
      expect(res.statusCode, payload).toBe(400);
      expect(res.json().message).toMatch(/\S/);
      const client = await h.connect({ username: TOKEN });
      expect(await publish(client, `v1/devices/me/${kind}`, payload), payload).toBe('closed');
    }
    expect(await sent(since)).toEqual([]);
  });
});
