/**
 * ThingsBoard's HTTP provisioning (POST /api/v1/provision), the profile's provisioning
 * settings (PATCH /api/profiles/{idOrName}) and claiming (device: POST /api/v1/<token>/claim;
 * operator: POST /api/devices/{idOrName}/claim), over real HTTP against a real database.
 */
import { credentialsChangedChannel, type IngestMessage } from '@spms/queue';
import { readIngestBatches } from '@spms/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';
import { createKey } from '../users/access-fixtures.js';

let t: TestApi;
let base: string;
const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const CREATE = { provisionDeviceKey: 'http-create-key', provisionDeviceSecret: 'http-create-secret-0123' };
const PRE = { provisionDeviceKey: 'http-pre-key-01', provisionDeviceSecret: 'http-pre-secret-0123456' };

beforeAll(async () => {
  // A small unknown-token budget so the wrong-secret test reaches it (it runs last).
  t = await createTestApi('provision_http', { AUTH_FAILURES_PER_IP: '3' });
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => t?.close());

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = admin) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}
const provision = async (body: unknown) => {
  const res = await call('POST', '/api/v1/provision', body, {});
  expect(res.status).toBe(200);
  return res.body as Record<string, unknown>;
};

async function profile(name: string, provisioning: Record<string, unknown>) {
  expect((await call('POST', '/api/profiles', { name })).status).toBe(201);
  return call('PATCH', `/api/profiles/${name}`, { provisioning });
}

describe('profile provisioning settings', () => {
  it('sets strategy, key and secret; the secret is never shown, logged in the audit or stored in clear', async () => {
    const res = await profile('auto-http', {
      strategy: 'allow_create',
      key: CREATE.provisionDeviceKey,
      secret: CREATE.provisionDeviceSecret,
      region: 'North',
    });
    expect(res.status).toBe(200);
    expect(res.body.provisioning).toEqual({
      strategy: 'allow_create',
      key: CREATE.provisionDeviceKey,
      hasSecret: true,
      deviceCredentials: true,
      region: 'North',
      customer: null,
    });
    expect(res.text).not.toContain(CREATE.provisionDeviceSecret);
    expect((await call('GET', '/api/profiles/auto-http')).body.provisioning.hasSecret).toBe(true);
    const list = await call('GET', '/api/profiles');
    expect(list.body.find((p: { name: string }) => p.name === 'auto-http').provisioning.strategy).toBe('allow_create');
    expect(list.text).not.toContain(CREATE.provisionDeviceSecret);
    const { rows } = await t.app.pg.query(`SELECT provision_secret_hash FROM device_profiles WHERE name = 'auto-http'`);
    expect(rows[0].provision_secret_hash).toMatch(/^scrypt\$/);
    const audit = await t.app.pg.query(`SELECT before, after FROM audit_log WHERE action = 'profile.update'`);
    expect(JSON.stringify(audit.rows)).not.toContain(CREATE.provisionDeviceSecret);
    expect(JSON.stringify(audit.rows)).not.toContain(rows[0].provision_secret_hash);
  });

  it('refuses weak secrets, a missing key and a key another profile uses', async () => {
    expect((await call('POST', '/api/profiles', { name: 'p2' })).status).toBe(201);
    const weak = await call('PATCH', '/api/profiles/p2', {
      provisioning: { strategy: 'allow_create', key: 'k-123456789', secret: 'short' },
    });
    expect(weak.status).toBe(400);
    expect(weak.body.message).toMatch(/secret/);
    const noKey = await call('PATCH', '/api/profiles/p2', {
      provisioning: { strategy: 'allow_create', secret: 'a-long-secret-0123456' },
    });
    expect(noKey).toMatchObject({ status: 400, body: { message: expect.stringMatching(/set provisioning.key/) } });
    const taken = await call('PATCH', '/api/profiles/p2', {
      provisioning: { strategy: 'allow_create', key: CREATE.provisionDeviceKey, secret: 'a-long-secret-0123456' },
    });
    expect(taken.status).toBe(409);
  });
});

describe('POST /api/v1/provision', () => {
  it('allow_create: creates the device, which then sends telemetry with its token', async () => {
    const answer = await provision({ deviceName: 'HTTP_PROV_1', ...CREATE });
    expect(answer).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    const device = await call('GET', '/api/devices/HTTP_PROV_1');
    expect(device.body).toMatchObject({ name: 'HTTP_PROV_1', region: 'North' });
    const sent = await call('POST', `/api/v1/${answer.credentialsValue}/telemetry`, { '3': false }, {});
    expect(sent.status).toBe(200);
    const queued: IngestMessage[] = (await readIngestBatches(t.redis.url, t.redis.prefix)).flatMap((b) => b.messages);
    expect(queued.filter((m) => m.kind === 'telemetry' && m.deviceId === device.body.id)).toHaveLength(1);
    expect(await provision({ deviceName: 'HTTP_PROV_1', ...CREATE })).toMatchObject({ status: 'FAILURE' });
  });

  it('pre_provisioned: unknown FAILURE, registered once, then FAILURE; disabled NOT_FOUND', async () => {
    expect(
      (
        await profile('pre-http', {
          strategy: 'pre_provisioned',
          key: PRE.provisionDeviceKey,
          secret: PRE.provisionDeviceSecret,
        })
      ).status,
    ).toBe(200);
    expect(await provision({ deviceName: 'HTTP_PRE_1', ...PRE })).toMatchObject({ status: 'FAILURE' });
    const registered = await call('POST', '/api/devices', { name: 'HTTP_PRE_1', profile: 'pre-http' });
    expect(registered.status).toBe(201);
    // Every process is told, as for any credentials change.
    const sub = new Redis(t.redis.url);
    const announced: string[] = [];
    sub.on('message', (_channel: string, id: string) => announced.push(id));
    await sub.subscribe(credentialsChangedChannel(t.redis.prefix));
    const first = await provision({
      deviceName: 'HTTP_PRE_1',
      ...PRE,
      credentialsType: 'ACCESS_TOKEN',
      token: 'device-chosen-token-0123456',
    });
    expect(first).toEqual({
      status: 'SUCCESS',
      credentialsType: 'ACCESS_TOKEN',
      credentialsValue: 'device-chosen-token-0123456',
    });
    for (let i = 0; i < 50 && !announced.includes(registered.body.id); i++) await new Promise((r) => setTimeout(r, 20));
    sub.disconnect();
    expect(announced).toContain(registered.body.id);
    expect(await provision({ deviceName: 'HTTP_PRE_1', ...PRE })).toMatchObject({
      status: 'FAILURE',
      errorMsg: 'The device was already provisioned',
    });
    // A device registered with credentials is working (or will be): never handed new ones.
    const liveToken = 'http-live-token-0123456789';
    const live = await call('POST', '/api/devices', {
      name: 'HTTP_PRE_LIVE',
      profile: 'pre-http',
      credentials: { type: 'ACCESS_TOKEN', token: liveToken },
    });
    expect(live.status).toBe(201);
    expect((await call('POST', `/api/v1/${liveToken}/telemetry`, { '3': true }, {})).status).toBe(200);
    expect(await provision({ deviceName: 'HTTP_PRE_LIVE', ...PRE })).toEqual({
      status: 'FAILURE',
      errorMsg: 'The device is not awaiting provisioning: it has credentials or has connected before',
    });
    expect((await call('POST', `/api/v1/${liveToken}/telemetry`, { '3': true }, {})).status).toBe(200);
    expect((await call('PATCH', '/api/profiles/pre-http', { provisioning: { strategy: 'disabled' } })).status).toBe(
      200,
    );
    expect(await provision({ deviceName: 'HTTP_PRE_2', ...PRE })).toMatchObject({ status: 'NOT_FOUND' });
  });

  it('concurrent requests for one new name create it once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => provision({ deviceName: 'HTTP_RACE', ...CREATE })),
    );
    expect(answers.filter((a) => a.status === 'SUCCESS')).toHaveLength(1);
    expect(answers.filter((a) => a.status === 'FAILURE')).toHaveLength(4);
    const { rows } = await t.app.pg.query(
      `SELECT count(*)::int AS n FROM devices d JOIN device_credentials c ON c.device_id = d.id WHERE d.name = 'HTTP_RACE'`,
    );
    expect(rows[0].n).toBe(1);
  });

  it('refuses weak device credentials and malformed requests with FAILURE', async () => {
    expect(
      await provision({
        deviceName: 'HTTP_WEAK',
        ...CREATE,
        credentialsType: 'MQTT_BASIC',
        clientId: 'c',
        username: 'u',
        password: 'pw',
      }),
    ).toMatchObject({ status: 'FAILURE', errorMsg: expect.stringMatching(/password is too short/) });
    expect(await provision('{nope')).toMatchObject({ status: 'FAILURE', errorMsg: 'request body is not JSON' });
    expect(await provision({ ...CREATE })).toMatchObject({ status: 'FAILURE', errorMsg: 'deviceName is required' });
    expect((await call('GET', '/api/devices/HTTP_WEAK')).status).toBe(404);
  });
});

describe('claiming', () => {
  const token = 'claim-http-token-0123456789';
  let deviceId: string;
  beforeAll(async () => {
    const res = await call('POST', '/api/devices', {
      name: 'CLAIM_HTTP_1',
      region: 'North',
      credentials: { type: 'ACCESS_TOKEN', token },
    });
    expect(res.status).toBe(201);
    deviceId = res.body.id;
  });

  it('the device asks over HTTP; wrong secret, scope and expiry are refused; the right secret assigns the customer once', async () => {
    expect((await call('POST', `/api/v1/${token}/claim`, {}, {})).status).toBe(400);
    expect(
      (await call('POST', `/api/v1/${token}/claim`, { secretKey: 'open-sesame', durationMs: 60000 }, {})).status,
    ).toBe(200);

    const north = await createKey(t.app, {
      name: 'north-acme',
      role: 'operator',
      regions: ['North'],
      customers: ['Acme'],
    });
    const south = await createKey(t.app, { name: 'south-op', role: 'operator', regions: ['South'] });
    const viewer = await createKey(t.app, { name: 'viewer', role: 'viewer' });
    const as = (k: { key: string }) => ({ authorization: `Bearer ${k.key}` });
    const claim = (body: unknown, h = admin) => call('POST', '/api/devices/CLAIM_HTTP_1/claim', body, h);

    expect((await claim({ secretKey: 'open-sesame' }, as(viewer))).status).toBe(403);
    const notFound = {
      status: 404,
      body: { message: 'no device "CLAIM_HTTP_1" with a pending claim request matching this secretKey' },
    };
    // Outside the caller's regions, a wrong secret and an unknown name: one answer.
    expect(await claim({ secretKey: 'open-sesame', customer: 'Acme' }, as(south))).toMatchObject(notFound);
    expect(await claim({ secretKey: 'wrong' }, as(north))).toMatchObject(notFound);
    expect((await call('POST', '/api/devices/NO_SUCH_DEVICE/claim', { secretKey: 'x' }, as(north))).status).toBe(404);
    expect((await claim({ secretKey: 'open-sesame', customer: 'Other' }, as(north))).status).toBe(403);
    expect(await claim({ secretKey: 'open-sesame' })).toMatchObject({
      status: 400,
      body: { message: 'customer: name the customer to assign the device to' },
    });

    await t.app.pg.query(`UPDATE device_claims SET expires_at = now() - interval '1 second' WHERE device_id = $1`, [
      deviceId,
    ]);
    expect(await claim({ secretKey: 'open-sesame' }, as(north))).toMatchObject({
      status: 422,
      body: { message: expect.stringMatching(/^claim request expired at .*send a new one/) },
    });
    await t.app.pg.query(`UPDATE device_claims SET expires_at = now() + interval '1 hour' WHERE device_id = $1`, [
      deviceId,
    ]);

    const ok = await claim({ secretKey: 'open-sesame' }, as(north));
    expect(ok).toMatchObject({ status: 200, body: { name: 'CLAIM_HTTP_1', customer: 'Acme' } });
    // Used up: the same secret claims nothing again.
    expect((await claim({ secretKey: 'open-sesame' }, as(north))).status).toBe(404);
    const audit = await t.app.pg.query(`SELECT after FROM audit_log WHERE action = 'device.claim' AND entity_id = $1`, [
      deviceId,
    ]);
    expect(audit.rows).toEqual([{ after: { customer: 'Acme' } }]);
  });
});

// Last: spends the address's unknown-token budget.
describe('wrong provision secret', () => {
  it('answers NOT_FOUND, counts toward the address budget, then 429', async () => {
    const bad = {
      deviceName: 'HTTP_BRUTE',
      provisionDeviceKey: CREATE.provisionDeviceKey,
      provisionDeviceSecret: 'guess-000000000',
    };
    for (let i = 0; i < 3; i++) expect(await provision(bad)).toMatchObject({ status: 'NOT_FOUND' });
    const refused = await call('POST', '/api/v1/provision', { deviceName: 'HTTP_OK', ...CREATE }, {});
    expect(refused.status).toBe(429);
    expect(refused.body.message).toBe('too many failed provisioning attempts from this address');
  });
});
