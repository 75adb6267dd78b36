/**
 * Staged firmware rollouts end to end over the real stack (tests/e2e/test-support/full-stack.ts:
 * broker, worker with its rollout controller, API, PostgreSQL, Redis; own database and Redis
 * prefix) with simulated devices running ThingsBoard's OTA client (packages/simulator):
 * images uploaded through the API, waves, the concurrency cap, chunked MQTT downloads that
 * resume after a dropped connection, reboots into the new version, a corrupted download
 * that fails a wave and pauses the rollout, provisioning, and the refusals at the edges.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { credentialsKey, hashSecret } from '@spms/credentials';
import { checksumOf } from '@spms/firmware';
import {
  createHttpDevice,
  createMqttDevice,
  type MqttSimDevice,
  type OtaOptions,
  ProvisionRefused,
  provisionOverHttp,
  provisionOverMqtt,
  runScenario,
  type SimDevice,
} from '@spms/simulator';
import { createTestRedis, type TestRedis } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, type FullStack, startFullStack } from './test-support/full-stack.js';

const auth = { authorization: `Bearer ${ADMIN_KEY}` };
const CHUNK = 1024;
const POLL = { timeout: 90_000, interval: 250 };

interface Env {
  stack: FullStack;
  redis: TestRedis;
  base: string;
  devices: SimDevice[];
}

async function startEnv(label: string, worker: Record<string, string>): Promise<Env> {
  const redis = createTestRedis(label);
  const stack = await startFullStack(label, redis, { worker });
  const base = await stack.api.listen({ host: '127.0.0.1', port: 0 });
  return { stack, redis, base, devices: [] };
}

async function stopEnv(env: Env | undefined): Promise<void> {
  if (!env) return;
  await Promise.all(env.devices.map((d) => d.stop(false)));
  await env.stack.close();
  await env.redis.cleanup();
}

async function api(env: Env, method: string, path: string, body?: unknown) {
  const res = await fetch(`${env.base}${path}`, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function upload(env: Env, version: string, image: Buffer, algorithm = 'SHA256', checksum?: string) {
  const q = new URLSearchParams({
    title: 'cabinet',
    version,
    checksumAlgorithm: algorithm,
    checksum: checksum ?? checksumOf(algorithm as 'SHA256', image),
  });
  const res = await fetch(`${env.base}/api/firmware?${q}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    body: image,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Registers devices with MQTT Basic credentials (profile SPMS) and boots a simulated one for each. */
async function simulate(env: Env, names: string[], ota: (name: string) => OtaOptions): Promise<MqttSimDevice[]> {
  const out: MqttSimDevice[] = [];
  for (const name of names) {
    const creds = { clientId: `${name}-cid`, username: `${name}-user`, password: `${name}-password` };
    const id = randomUUID();
    await env.stack.sql.query(
      `INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, '00000000-0000-4000-8000-000000000001', now())`,
      [id, name],
    );
    await env.stack.sql.query(
      `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
       VALUES ($1, 'MQTT_BASIC', $2, $3, $4, $5, now())`,
      [
        id,
        credentialsKey({ type: 'MQTT_BASIC', ...creds }),
        creds.clientId,
        creds.username,
        await hashSecret(creds.password, 'generated'),
      ],
    );
    const device = createMqttDevice({
      name,
      host: '127.0.0.1',
      port: env.stack.gateway.mqttPort,
      ...creds,
      rebootMs: 300,
      bootSpacingMs: 10,
      ota: ota(name),
    });
    env.devices.push(device);
    out.push(device);
    device.start();
  }
  // Every device has told the server what it runs before a rollout starts.
  await expect
    .poll(async () => {
      const r = await env.stack.sql.query(
        `SELECT count(*)::int AS n FROM device_firmware f JOIN devices d ON d.id = f.device_id
          WHERE d.name = ANY($1) AND f.current_version IS NOT NULL`,
        [names],
      );
      return r.rows[0].n;
    }, POLL)
    .toBe(names.length);
  return out;
}

const names = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);

describe('firmware rollouts over simulated devices', () => {
  let env: Env;
  beforeAll(async () => {
    // A short controller tick so waves follow each other quickly; the last describe runs the defaults.
    env = await startEnv('e2e_rollout', { ROLLOUT_TICK_MS: '300' });
  });
  afterAll(() => stopEnv(env));

  it('refuses an upload whose checksum does not match and stores nothing', async () => {
    const image = randomBytes(5000);
    const before = await env.stack.sql.query('SELECT count(*)::int AS n FROM pg_largeobject_metadata');
    const bad = await upload(env, '9.9.9', image, 'SHA256', checksumOf('SHA256', randomBytes(10)));
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toMatch(/checksum mismatch/i);
    expect((await api(env, 'GET', '/api/firmware')).body.total).toBe(0);
    const after = await env.stack.sql.query('SELECT count(*)::int AS n FROM pg_largeobject_metadata');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('rolls a good image out in 3 waves, at most 2 at a time; devices that drop mid-download resume', async () => {
    const image = randomBytes(10 * CHUNK + 321); // 11 chunks
    const fw = await upload(env, '2.0.0', image, 'CRC32');
    expect(fw.status).toBe(201);
    const fleet = names('ROLL', 10);
    const dropping = new Set(fleet.slice(0, 3));
    const devices = await simulate(env, fleet, (name) => ({
      title: 'cabinet',
      version: '1.0.0',
      chunkSize: CHUNK,
      ...(dropping.has(name) ? { fail: 'drop' as const, dropAfterChunks: 4 } : {}),
    }));

    const created = await api(env, 'POST', '/api/rollouts', {
      firmwareId: fw.body.id,
      scope: { devices: fleet },
      waves: [10, 50, 100],
      maxConcurrent: 2,
      failureThreshold: 0.2,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    let maxInFlight = 0;
    await expect
      .poll(async () => {
        const r = (await api(env, 'GET', `/api/rollouts/${id}?limit=100`)).body;
        const inFlight = r.perDevice.items.filter((d: { state: string }) =>
          ['assigned', 'downloading'].includes(d.state),
        );
        maxInFlight = Math.max(maxInFlight, inFlight.length);
        return r.status;
      }, POLL)
      .toBe('completed');
    expect(maxInFlight).toBeLessThanOrEqual(2);

    const done = (await api(env, 'GET', `/api/rollouts/${id}?limit=100`)).body;
    expect(done.perWave.map((w: { devices: number }) => w.devices)).toEqual([1, 4, 5]);
    expect(done.perDevice.items.map((d: { state: string }) => d.state)).toEqual(Array(10).fill('updated'));
    for (const d of devices) {
      expect(d.ota?.current).toEqual({ title: 'cabinet', version: '2.0.0' });
      expect(d.ota?.state).toBe('UPDATED');
      // A device that dropped asked for the chunks it had again at most once each: it resumed.
      expect(d.ota?.chunksReceived).toBe(11);
    }
    const one = (await api(env, 'GET', `/api/devices/${fleet[0]}`)).body;
    expect(one.firmware).toMatchObject({ current: { title: 'cabinet', version: '2.0.0' }, state: 'UPDATED' });
  }, 180_000);

  it('a corrupted download fails the first wave over the threshold: the rollout pauses itself and assigns nothing more', async () => {
    const image = randomBytes(3 * CHUNK);
    const fw = await upload(env, '3.0.0', image);
    expect(fw.status).toBe(201);
    const fleet = names('BAD', 6);
    await simulate(env, fleet, () => ({ title: 'cabinet', version: '2.0.0', chunkSize: CHUNK, fail: 'checksum' }));
    const created = await api(env, 'POST', '/api/rollouts', {
      firmwareId: fw.body.id,
      scope: { devices: fleet },
      waves: [34, 100],
      maxConcurrent: 2,
      failureThreshold: 0.4,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await expect.poll(async () => (await api(env, 'GET', `/api/rollouts/${id}`)).body.status, POLL).toBe('paused');
    // 6 devices at [34, 100] are waves of 3 and 3; two at a time. The rate counts the devices
    // tried (finished or in flight), so the first failure of the two in flight is 50 %, over
    // 40 %: the pause comes with it (or with both, failed in one tick). The paused rollout still
    // follows the other in-flight device, which fails too; the third device of wave 1 is never
    // assigned.
    const failedOf = (body: { perDevice: { items: { state: string }[] } }) =>
      body.perDevice.items.filter((d) => d.state === 'failed');
    await expect
      .poll(async () => failedOf((await api(env, 'GET', `/api/rollouts/${id}?limit=100`)).body).length, POLL)
      .toBe(2);
    const paused = (await api(env, 'GET', `/api/rollouts/${id}?limit=100`)).body;
    expect(paused.status).toBe('paused');
    expect(paused.perWave.map((w: { devices: number }) => w.devices)).toEqual([3, 3]);
    expect(paused.statusReason).toMatch(/^wave 1: [12] of 2 devices failed/);
    const failed = failedOf(paused);
    for (const d of failed) expect(d.error).toMatch(/Checksum verification failed/);
    // Later ticks assign nothing: every other device keeps its old target (none).
    await new Promise((r) => setTimeout(r, 1500));
    const later = (await api(env, 'GET', `/api/rollouts/${id}?limit=100`)).body;
    expect(later.status).toBe('paused');
    const pending = later.perDevice.items.filter((d: { state: string }) => d.state !== 'failed');
    expect(pending.map((d: { state: string }) => d.state)).toEqual(Array(4).fill('pending'));
    const targets = await env.stack.sql.query(
      'SELECT count(*)::int AS n FROM devices WHERE name = ANY($1) AND firmware_id IS NOT NULL',
      [pending.map((d: { name: string }) => d.name)],
    );
    expect(targets.rows[0].n).toBe(0);
  }, 120_000);

  it('refuses unknown firmware in a rollout (404) and in an assignment (400 naming the field)', async () => {
    const unknown = randomUUID();
    const rollout = await api(env, 'POST', '/api/rollouts', {
      firmwareId: unknown,
      scope: { devices: ['ROLL-00'] },
      waves: [100],
      maxConcurrent: 1,
      failureThreshold: 0.5,
    });
    expect(rollout.status).toBe(404);
    expect(rollout.body.message).toMatch(/firmware/i);
    const patch = await api(env, 'PATCH', '/api/devices/ROLL-00', { firmwareId: unknown });
    expect(patch.status).toBe(400);
    expect(patch.body.message).toMatch(/firmwareId/);
    expect((await api(env, 'GET', '/api/devices/ROLL-00')).body.firmware.target.version).toBe('2.0.0');
  });

  it('provisioning: a wrong secret is refused over MQTT and HTTP; a simulated device provisions itself, reports and downloads over HTTP', async () => {
    const settings = await api(env, 'PATCH', '/api/profiles/SPMS', {
      provisioning: { strategy: 'allow_create', key: 'rollout-prov-key', secret: 'rollout-provision-secret' },
    });
    expect(settings.status).toBe(200);
    const wrong = { deviceName: 'PROV-X', key: 'rollout-prov-key', secret: 'not-the-secret' };
    const target = { host: '127.0.0.1', port: env.stack.gateway.mqttPort };
    await expect(provisionOverMqtt(target, wrong)).rejects.toMatchObject({ status: 'NOT_FOUND' });
    await expect(provisionOverHttp(env.base, wrong)).rejects.toBeInstanceOf(ProvisionRefused);
    await expect(provisionOverHttp(env.base, wrong)).rejects.toMatchObject({ status: 'NOT_FOUND' });
    expect((await api(env, 'GET', '/api/devices/PROV-X')).status).toBe(404);

    let token: string | undefined;
    const device = createMqttDevice({
      name: 'PROV-1',
      host: '127.0.0.1',
      port: env.stack.gateway.mqttPort,
      clientId: 'PROV-1',
      rebootMs: 300,
      bootSpacingMs: 10,
      provision: { key: 'rollout-prov-key', secret: 'rollout-provision-secret' },
      onProvisioned: (_name, creds) => {
        token = creds.token;
      },
    });
    env.devices.push(device);
    device.start();
    // Its boot sequence reaches the worker under the new device.
    await expect
      .poll(async () => {
        const r = await env.stack.sql.query(
          `SELECT count(*)::int AS n FROM line_state l JOIN devices d ON d.id = l.device_id WHERE d.name = 'PROV-1'`,
        );
        return r.rows[0].n;
      }, POLL)
      .toBe(8);
    expect(token).toBeTypeOf('string');

    // HTTP download with the token it got: a chunk index past the end marker is a 400.
    const fw = (await api(env, 'GET', '/api/firmware?title=cabinet')).body.items.find(
      (f: { version: string }) => f.version === '2.0.0',
    );
    expect((await api(env, 'PATCH', '/api/devices/PROV-1', { firmwareId: fw.id })).status).toBe(200);
    const chunk = (n: number) =>
      fetch(`${env.base}/api/v1/${token}/firmware?title=cabinet&version=2.0.0&size=${CHUNK}&chunk=${n}`);
    const first = await chunk(0);
    expect(first.status).toBe(200);
    expect((await first.arrayBuffer()).byteLength).toBe(CHUNK);
    const end = await chunk(11);
    expect(end.status).toBe(200);
    expect((await end.arrayBuffer()).byteLength).toBe(0);
    const out = await chunk(12);
    expect(out.status).toBe(400);
    expect(((await out.json()) as { message: string }).message).toMatch(/chunk/);

    // An HTTP device provisions itself over HTTP and updates over HTTP (attributes polled,
    // chunks by GET, states POSTed), power-cycling once mid-download on the way.
    const creds = await provisionOverHttp(env.base, {
      deviceName: 'PROV-H',
      key: 'rollout-prov-key',
      secret: 'rollout-provision-secret',
    });
    const httpDevice = createHttpDevice({
      name: 'PROV-H',
      baseUrl: env.base,
      token: creds.token as string,
      rebootMs: 300,
      ota: { title: 'cabinet', version: '1.0.0', chunkSize: CHUNK, pollMs: 300, fail: 'drop', dropAfterChunks: 3 },
    });
    env.devices.push(httpDevice);
    httpDevice.start();
    expect((await api(env, 'PATCH', '/api/devices/PROV-H', { firmwareId: fw.id })).status).toBe(200);
    await expect
      .poll(async () => (await api(env, 'GET', '/api/devices/PROV-H')).body.firmware, POLL)
      .toMatchObject({ current: { title: 'cabinet', version: '2.0.0' }, state: 'UPDATED' });
    expect(httpDevice.ota?.chunksReceived).toBe(11);
  }, 120_000);
});

describe('devices that fail in other ways', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv('e2e_rollout_fail', { ROLLOUT_TICK_MS: '300' });
  });
  afterAll(() => stopEnv(env));

  it('a device reporting FAILED and one that never comes back after updating both count as failed', async () => {
    const fw = await upload(env, '2.0.0', randomBytes(2 * CHUNK + 1));
    expect(fw.status).toBe(201);
    const devices = await simulate(env, ['GONE-1', 'REFUSE-1'], (name) => ({
      title: 'cabinet',
      version: '1.0.0',
      chunkSize: CHUNK,
      fail: name === 'GONE-1' ? 'no-return' : 'report-failed',
    }));
    const created = await api(env, 'POST', '/api/rollouts', {
      firmwareId: fw.body.id,
      scope: { devices: ['GONE-1', 'REFUSE-1'] },
      waves: [100],
      maxConcurrent: 2,
      failureThreshold: 1,
      successTimeoutSec: 10,
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await expect.poll(async () => (await api(env, 'GET', `/api/rollouts/${id}`)).body.status, POLL).toBe('completed');
    const byName = Object.fromEntries(
      (await api(env, 'GET', `/api/rollouts/${id}`)).body.perDevice.items.map((d: { name: string }) => [d.name, d]),
    );
    expect(byName['REFUSE-1']).toMatchObject({ state: 'failed', error: 'simulated update failure' });
    expect(byName['GONE-1'].state).toBe('failed');
    expect(byName['GONE-1'].error).toMatch(/within 10 s/);
    // The silent one had reported UPDATING before the reboot it never came back from.
    expect(devices[0]?.ota?.state).toBe('UPDATING');
  }, 120_000);

  it('spms-sim run --ota --provision-key: a fleet unknown to the server provisions itself and updates to its profile firmware', async () => {
    const fw = await upload(env, '5.0.0', randomBytes(3 * CHUNK + 7));
    expect(fw.status).toBe(201);
    expect((await api(env, 'PATCH', '/api/profiles/SPMS', { firmwareId: fw.body.id })).status).toBe(200);
    const settings = await api(env, 'PATCH', '/api/profiles/SPMS', {
      provisioning: { strategy: 'allow_create', key: 'sim-fleet-key', secret: 'sim-fleet-provision-secret' },
    });
    expect(settings.status).toBe(200);
    const fleet = {
      devices: names('SIM', 3).map((name) => ({
        name,
        region: 'Western',
        latitude: 6.9,
        longitude: 79.9,
        transport: 'mqtt' as const,
        credentials: {
          type: 'MQTT_BASIC' as const,
          clientId: `${name}-cid`,
          username: `${name}-user`,
          password: randomBytes(12).toString('hex'),
        },
        lines: ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'],
      })),
    };
    const ac = new AbortController();
    const run = runScenario({
      fleet,
      scenario: { name: 'ota', duration: '10m', events: [] },
      mqttUrl: `mqtt://127.0.0.1:${env.stack.gateway.mqttPort}`,
      mqtt: { rebootMs: 300, bootSpacingMs: 10 },
      ota: { title: 'cabinet', version: '1.0.0', chunkSize: CHUNK },
      provision: { key: 'sim-fleet-key', secret: 'sim-fleet-provision-secret' },
      settleMs: 60_000,
      signal: ac.signal,
    });
    try {
      for (const d of fleet.devices)
        await expect
          .poll(async () => (await api(env, 'GET', `/api/devices/${d.name}`)).body?.firmware, POLL)
          .toMatchObject({ current: { title: 'cabinet', version: '5.0.0' }, state: 'UPDATED' });
    } finally {
      ac.abort();
      await run;
    }
    // They connected with the credentials they presented.
    const creds = await env.stack.sql.query(
      `SELECT c.username FROM device_credentials c JOIN devices d ON d.id = c.device_id WHERE d.name = ANY($1) ORDER BY 1`,
      [fleet.devices.map((d) => d.name)],
    );
    expect(creds.rows.map((r) => r.username)).toEqual(fleet.devices.map((d) => d.credentials.username));
  }, 120_000);
});

describe('a rollout with the shipped defaults', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv('e2e_rollout_defaults', {});
  });
  afterAll(() => stopEnv(env));

  it('updates two devices in two waves with the default controller tick and timeouts', async () => {
    const image = randomBytes(4 * CHUNK + 10);
    const fw = await upload(env, '2.0.0', image);
    expect(fw.status).toBe(201);
    const fleet = names('DEF', 2);
    const devices = await simulate(env, fleet, () => ({ title: 'cabinet', version: '1.0.0', chunkSize: CHUNK }));
    const created = await api(env, 'POST', '/api/rollouts', {
      firmwareId: fw.body.id,
      scope: { devices: fleet },
      waves: [50, 100],
      maxConcurrent: 1,
      failureThreshold: 0.5,
    });
    expect(created.status).toBe(201);
    await expect
      .poll(async () => (await api(env, 'GET', `/api/rollouts/${created.body.id}`)).body.status, {
        timeout: 120_000,
        interval: 500,
      })
      .toBe('completed');
    for (const d of devices) expect(d.ota?.current.version).toBe('2.0.0');
  }, 180_000);
});
