import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { IngestMessage } from '@spms/queue';
import { freePort, readIngestBatches, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { createTestApi, insertTokenDevice, type TestApi } from '../../test-support/test-api.js';

const fixtures = JSON.parse(
  readFileSync(new URL('../../../../../fixtures/http-firmware.json', import.meta.url), 'utf8'),
) as {
  bodies: Array<{ body: string }>;
};
const TOKEN = 'HTTP_DEVICE_TOKEN_01';
let t: TestApi;
let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let deviceId: string;

beforeAll(async () => {
  t = await createTestApi('device_api');
  ({ app, db, redis } = t);
  deviceId = await insertTokenDevice(app, '0100_MSAN', TOKEN);
});

afterAll(async () => {
  await t?.close();
});

async function queued(): Promise<IngestMessage[]> {
  return (await readIngestBatches(redis.url, redis.prefix)).flatMap((b) => b.messages);
}

const post = (path: string, payload: string | Buffer, contentType?: string) =>
  app.inject({ method: 'POST', url: path, payload, headers: contentType ? { 'content-type': contentType } : {} });

describe('POST /api/v1/:token/telemetry', () => {
  it('accepts both HTTP firmware snapshots byte-exact (app.inject) and queues them', async () => {
    for (const { body } of fixtures.bodies) {
      const res = await post(`/api/v1/${TOKEN}/telemetry`, body, 'application/json');
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('');
    }
    const msgs = await queued();
    for (const { body } of fixtures.bodies) {
      const want = JSON.parse(body);
      const m = msgs.find((x) => x.kind === 'telemetry' && isDeepStrictEqual(x.entries[0]?.values, want));
      expect(m).toMatchObject({
        kind: 'telemetry',
        deviceId,
        transport: 'http',
        entries: [{ values: JSON.parse(body) }],
      });
      expect(m?.kind === 'telemetry' && m.entries[0]?.ts).toBeUndefined();
    }
  });

  it('accepts them over a real HTTP connection too', async () => {
    const port = await freePort();
    await app.listen({ port, host: '127.0.0.1' });
    const before = (await queued()).length;
    for (const { body } of fixtures.bodies) {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/${TOKEN}/telemetry`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(200);
    }
    const after = await queued();
    expect(after.length).toBe(before + 2);
    expect(after.slice(-2).map((m) => (m.kind === 'telemetry' ? m.entries[0]?.values : null))).toEqual(
      fixtures.bodies.map((b) => JSON.parse(b.body)),
    );
  });

  it('accepts lenient JSON whatever the content type (the MQTT firmware style)', async () => {
    for (const ct of [
      'text/plain',
      undefined,
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      'application/json',
    ]) {
      expect((await post(`/api/v1/${TOKEN}/telemetry`, "{'3':'false'}", ct)).statusCode).toBe(200);
    }
    const ts = await post(
      `/api/v1/${TOKEN}/telemetry`,
      '{"ts":1764230400000,"values":{"1":"false","V":0.0}}',
      'application/json',
    );
    expect(ts.statusCode).toBe(200);
    const last = (await queued()).at(-1);
    expect(last).toMatchObject({ kind: 'telemetry', entries: [{ ts: 1764230400000, values: { '1': 'false', V: 0 } }] });
  });

  it('answers 401 for an unknown token, 400 with the reason, 413 when too large', async () => {
    expect((await post('/api/v1/NOT_A_TOKEN_123/telemetry', '{"V":1}', 'application/json')).statusCode).toBe(401);
    const line9 = await post(`/api/v1/${TOKEN}/telemetry`, "{'9':'true'}", 'application/json');
    expect(line9.statusCode).toBe(400);
    expect(line9.json().message).toContain('line 9');
    const v = await post(`/api/v1/${TOKEN}/telemetry`, '{"V":"abc"}', 'application/json');
    expect(v.statusCode).toBe(400);
    expect(v.json().message).toContain('V: "abc" is not a number');
    const junk = await post(`/api/v1/${TOKEN}/telemetry`, '{"V":', 'application/json');
    expect(junk.statusCode).toBe(400);
    expect(junk.json().message).toMatch(/not JSON/);
    const empty = await post(`/api/v1/${TOKEN}/telemetry`, '', 'application/json');
    expect(empty.statusCode).toBe(400);
    const big = `{"x":"${'a'.repeat(65536)}"}`;
    expect((await post(`/api/v1/${TOKEN}/telemetry`, big, 'application/json')).statusCode).toBe(413);
  });

  it('answers 400 with the reason for a ts in seconds or in the future, and for over-limit payloads', async () => {
    const cases: [string, RegExp][] = [
      ['{"ts":1733150000,"values":{"1":true}}', /ts 1733150000 looks like seconds: send milliseconds/],
      [`{"ts":${Date.now() + 86_400_000},"values":{"1":true}}`, /in the future/],
      [`{"x":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`, /nested deeper than/],
      [JSON.stringify({ ['k'.repeat(1000)]: 1 }), /1000 characters long/],
    ];
    for (const [body, reason] of cases) {
      const r = await post(`/api/v1/${TOKEN}/telemetry`, body, 'application/json');
      expect(r.statusCode).toBe(400);
      expect(r.json().message).toMatch(reason);
    }
    const attrs = await post(
      `/api/v1/${TOKEN}/attributes`,
      JSON.stringify({ ['k'.repeat(1000)]: 1 }),
      'application/json',
    );
    expect(attrs.statusCode).toBe(400);
    const old = await post(
      `/api/v1/${TOKEN}/telemetry`,
      `{"ts":${Date.now() - 90 * 86_400_000},"values":{"1":true}}`,
      'application/json',
    );
    expect(old.statusCode).toBe(200); // months-old history is fine
  });

  it('does not log the access token', async () => {
    const { redactUrl } = await import('../../plugins/log-redaction.js');
    expect(redactUrl(`/api/v1/${TOKEN}/telemetry?x=1`)).toBe('/api/v1/<token>/telemetry?x=1');
  });
});

describe('client attributes', () => {
  it('POST queues an attributes message; GET reads device_attributes by scope', async () => {
    const res = await post(`/api/v1/${TOKEN}/attributes`, "{fw_version:'1.2.0',rssi:-71}", 'text/plain');
    expect(res.statusCode).toBe(200);
    expect((await queued()).at(-1)).toMatchObject({
      kind: 'attributes',
      deviceId,
      transport: 'http',
      values: { fw_version: '1.2.0', rssi: -71 },
    });
    expect((await post(`/api/v1/${TOKEN}/attributes`, '[1,2]', 'application/json')).statusCode).toBe(400);

    await app.pg.query(
      `INSERT INTO device_attributes (device_id, scope, key, value) VALUES
       ($1,'client','fw_version','"1.2.0"'), ($1,'client','rssi','-71'), ($1,'shared','interval','30'), ($1,'server','secret','1')`,
      [deviceId],
    );
    const all = await app.inject(`/api/v1/${TOKEN}/attributes`);
    expect(all.json()).toEqual({ client: { fw_version: '1.2.0', rssi: -71 }, shared: { interval: 30 } });
    const some = await app.inject(`/api/v1/${TOKEN}/attributes?clientKeys=rssi,nope&sharedKeys=interval`);
    expect(some.json()).toEqual({ client: { rssi: -71 }, shared: { interval: 30 } });
    expect((await app.inject(`/api/v1/${TOKEN}/attributes?sharedKeys=interval`)).json()).toEqual({
      shared: { interval: 30 },
    });
    expect((await app.inject('/api/v1/NOT_A_TOKEN_123/attributes')).statusCode).toBe(401);
  });
});

describe('backends down', () => {
  it('answers 503 when the device registry (PostgreSQL) cannot be reached', async () => {
    const port = await freePort();
    const down = await buildApp(
      loadApiConfig({
        DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/nope`,
        REDIS_URL: redis.url,
        REDIS_PREFIX: redis.prefix,
        LOG_LEVEL: 'silent',
      }),
    );
    try {
      const res = await down.inject({ method: 'POST', url: `/api/v1/${TOKEN}/telemetry`, payload: '{"V":230}' });
      expect(res.statusCode).toBe(503);
    } finally {
      await down.close();
    }
  });

  it('answers 503 (not 200) when the ingest queue cannot be reached', async () => {
    const port = await freePort();
    const down = await buildApp(
      loadApiConfig({
        DATABASE_URL: db.url,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        REDIS_PREFIX: redis.prefix,
        LOG_LEVEL: 'silent',
      }),
    );
    try {
      const res = await down.inject({
        method: 'POST',
        url: `/api/v1/${TOKEN}/telemetry`,
        payload: fixtures.bodies[0]?.body,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(503);
      expect(
        (await down.inject({ method: 'POST', url: '/api/v1/NOT_A_TOKEN_123/telemetry', payload: '{}' })).statusCode,
      ).toBe(401);
    } finally {
      await down.close();
    }
  });
});
