/**
 * Firmware assignment through PATCH /api/devices and /api/profiles, the fw_* shared
 * attributes a device reads (HTTP device API), the push to a live session, and the HTTP
 * chunk download (ThingsBoard's GET /api/v1/<token>/firmware).
 */
import { randomBytes } from 'node:crypto';
import { checksumOf } from '@spms/firmware';
import { deviceCommandsKey, gatewayAliveKey, sessionOwnersKey } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, insertTokenDevice, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const HTTP_PROFILE = 'SPMS-HTTP';

let t: TestApi;
let app: FastifyInstance;
const images: Record<string, Buffer> = {};
const ids: Record<string, string> = {};

async function uploadImage(title: string, version: string, image: Buffer): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/firmware?title=${title}&version=${version}&checksumAlgorithm=SHA256&checksum=${checksumOf('SHA256', image)}`,
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    payload: image,
  });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

const patch = (url: string, payload: object, headers = auth) => app.inject({ method: 'PATCH', url, headers, payload });

const sharedFw = async (token: string) =>
  (
    await app.inject({
      method: 'GET',
      url: `/api/v1/${token}/attributes?sharedKeys=fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm`,
    })
  ).json().shared;

beforeAll(async () => {
  t = await createTestApi('fw_assign_api', { FW_CHUNK_MAX_BYTES: '4096' });
  app = t.app;
  images.a = randomBytes(10_000);
  images.b = randomBytes(7_777);
  ids.a = await uploadImage('spms-esp32', '1.0.0', images.a);
  ids.b = await uploadImage('spms-esp32', '1.1.0', images.b);
  ids.dev1 = await insertTokenDevice(app, 'OTA-1', 'ota-token-one-0123456789');
  ids.dev2 = await insertTokenDevice(app, 'OTA-2', 'ota-token-two-0123456789');
});
afterAll(async () => {
  await t?.close();
});

describe('firmware assignment', () => {
  it("profile firmware reaches its devices as fw_* shared attributes; a device's own wins; null clears", async () => {
    const prof = await patch(`/api/profiles/${HTTP_PROFILE}`, { firmwareId: ids.a });
    expect(prof.statusCode).toBe(200);
    expect(prof.json().firmwareId).toBe(ids.a);
    const expectA = {
      fw_title: 'spms-esp32',
      fw_version: '1.0.0',
      fw_size: 10_000,
      fw_checksum: checksumOf('SHA256', images.a as Buffer),
      fw_checksum_algorithm: 'SHA256',
    };
    expect(await sharedFw('ota-token-one-0123456789')).toEqual(expectA);
    expect(await sharedFw('ota-token-two-0123456789')).toEqual(expectA);

    const own = await patch('/api/devices/OTA-2', { firmwareId: ids.b });
    expect(own.statusCode).toBe(200);
    expect(own.json().firmware).toEqual({
      current: null,
      target: { id: ids.b, title: 'spms-esp32', version: '1.1.0' },
      targetFrom: 'device',
      state: null,
      error: null,
      stateAt: null,
    });
    expect((await sharedFw('ota-token-two-0123456789')).fw_version).toBe('1.1.0');
    const one = await app.inject({ method: 'GET', url: '/api/devices/OTA-1', headers: auth });
    expect(one.json().firmware).toMatchObject({ target: { id: ids.a }, targetFrom: 'profile' });

    // The profile's firmware cleared: OTA-1 loses its attributes, OTA-2 keeps its own.
    await patch(`/api/profiles/${HTTP_PROFILE}`, { firmwareId: null });
    expect(await sharedFw('ota-token-one-0123456789')).toEqual({});
    expect((await sharedFw('ota-token-two-0123456789')).fw_version).toBe('1.1.0');
    await patch('/api/devices/OTA-2', { firmwareId: null });
    expect(await sharedFw('ota-token-two-0123456789')).toEqual({});
    const audit = await app.pg.query(
      "SELECT after->'firmware'->'target' AS target FROM audit_log WHERE action = 'device.update' AND entity_id = $1 ORDER BY id",
      [ids.dev2],
    );
    expect(audit.rows.map((r) => r.target?.version ?? null)).toEqual(['1.1.0', null]);
  });

  it("gives a new device its profile's firmware: created through the API, imported, or provisioned by itself", async () => {
    await app.inject({ method: 'POST', url: '/api/profiles', headers: auth, payload: { name: 'OTA-P' } });
    const prov = await patch('/api/profiles/OTA-P', {
      firmwareId: ids.a,
      provisioning: { strategy: 'allow_create', key: 'ota-provision-key', secret: 'ota-provision-secret-0123' },
    });
    expect(prov.statusCode).toBe(200);
    const viaApi = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: auth,
      payload: {
        name: 'OTA-NEW',
        profile: 'OTA-P',
        credentials: { type: 'ACCESS_TOKEN', token: 'ota-token-new-0123456789' },
      },
    });
    expect(viaApi.statusCode).toBe(201);
    expect((await sharedFw('ota-token-new-0123456789')).fw_version).toBe('1.0.0');
    const imported = await app.inject({
      method: 'POST',
      url: '/api/devices/import',
      headers: { ...auth, 'content-type': 'text/csv' },
      payload: 'name,profile,token\nOTA-CSV,OTA-P,ota-token-csv-0123456789\n',
    });
    expect(imported.statusCode, imported.body).toBe(201);
    expect((await sharedFw('ota-token-csv-0123456789')).fw_version).toBe('1.0.0');
    const provisioned = await app.inject({
      method: 'POST',
      url: '/api/v1/provision',
      payload: {
        deviceName: 'OTA-SELF',
        provisionDeviceKey: 'ota-provision-key',
        provisionDeviceSecret: 'ota-provision-secret-0123',
        credentialsType: 'ACCESS_TOKEN',
        token: 'ota-token-self-0123456789',
      },
    });
    expect(provisioned.json().status).toBe('SUCCESS');
    expect((await sharedFw('ota-token-self-0123456789')).fw_version).toBe('1.0.0');
    await patch('/api/profiles/OTA-P', { firmwareId: null });
  });

  it('refuses unknown firmware (400 naming the field) and changes nothing', async () => {
    const unknown = '6f1c7a52-3c4b-4a8e-9f0e-1b2c3d4e5f60';
    const dev = await patch('/api/devices/OTA-1', { firmwareId: unknown, label: 'x' });
    expect(dev.statusCode).toBe(400);
    expect(dev.json().message).toMatch(/firmwareId: no firmware/);
    expect((await app.inject({ method: 'GET', url: '/api/devices/OTA-1', headers: auth })).json().label).toBeNull();
    const prof = await patch(`/api/profiles/${HTTP_PROFILE}`, { firmwareId: unknown });
    expect(prof.statusCode).toBe(400);
    expect((await patch('/api/devices/OTA-1', { firmwareId: 'not-a-uuid' })).statusCode).toBe(400);
  });

  it('pushes the change to a live session at once (and not to a device without one)', async () => {
    // OTA-1 holds a live session on broker "gw-test"; OTA-2 has none.
    await app.redis.hset(sessionOwnersKey(t.redis.prefix), ids.dev1 as string, 'gw-test 1');
    await app.redis.set(gatewayAliveKey(t.redis.prefix, 'gw-test'), '1', 'PX', 60_000);
    await patch(`/api/profiles/${HTTP_PROFILE}`, { firmwareId: ids.b });
    const pushed = (await app.redis.lrange(deviceCommandsKey(t.redis.prefix, ids.dev1 as string), 0, -1)).map((r) =>
      JSON.parse(r),
    );
    expect(pushed).toEqual([
      expect.objectContaining({
        kind: 'attributes',
        payload: expect.objectContaining({ fw_title: 'spms-esp32', fw_version: '1.1.0', fw_size: 7_777 }),
      }),
    ]);
    expect(await app.redis.exists(deviceCommandsKey(t.redis.prefix, ids.dev2 as string))).toBe(0);
    await app.redis.del(deviceCommandsKey(t.redis.prefix, ids.dev1 as string));
    await patch(`/api/profiles/${HTTP_PROFILE}`, { firmwareId: null });
    const cleared = await app.redis.lrange(deviceCommandsKey(t.redis.prefix, ids.dev1 as string), 0, -1);
    expect(JSON.parse(cleared[0] as string).payload).toEqual({
      deleted: ['fw_title', 'fw_version', 'fw_size', 'fw_checksum', 'fw_checksum_algorithm'],
    });
  });
});

describe('HTTP firmware download (GET /api/v1/<token>/firmware)', () => {
  const get = (token: string, q: string) => app.inject({ method: 'GET', url: `/api/v1/${token}/firmware?${q}` });

  it('serves the target in chunks that reassemble to the exact image, and whole without a size', async () => {
    await patch('/api/devices/OTA-1', { firmwareId: ids.a });
    const token = 'ota-token-one-0123456789';
    const parts: Buffer[] = [];
    for (let chunk = 0; chunk < Math.ceil(10_000 / 4096); chunk++) {
      const res = await get(token, `title=spms-esp32&version=1.0.0&size=4096&chunk=${chunk}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/octet-stream');
      parts.push(res.rawPayload);
    }
    expect(parts.map((p) => p.length)).toEqual([4096, 4096, 1808]);
    expect(Buffer.concat(parts).equals(images.a as Buffer)).toBe(true);
    const whole = await get(token, 'title=spms-esp32&version=1.0.0');
    expect(whole.statusCode).toBe(200);
    expect(whole.rawPayload.equals(images.a as Buffer)).toBe(true);
  });

  it('refuses a chunk out of range, a size over the cap, another version, and firmware not assigned to the device', async () => {
    const token = 'ota-token-one-0123456789';
    // The chunk just past the end is ThingsBoard's empty end marker; further out is refused.
    const end = await get(token, 'title=spms-esp32&version=1.0.0&size=4096&chunk=3');
    expect(end.statusCode).toBe(200);
    expect(end.rawPayload.length).toBe(0);
    const out = await get(token, 'title=spms-esp32&version=1.0.0&size=4096&chunk=4');
    expect(out.statusCode).toBe(400);
    expect(out.json().message).toMatch(/chunk: 4 is out of range.*chunks 0\.\.2/);
    const big = await get(token, 'title=spms-esp32&version=1.0.0&size=5000&chunk=0');
    expect(big.statusCode).toBe(400);
    expect(big.json().message).toMatch(/FW_CHUNK_MAX_BYTES/);
    const other = await get(token, 'title=spms-esp32&version=1.1.0&size=1024&chunk=0');
    expect(other.statusCode).toBe(404);
    expect(other.json().message).toMatch(/not this device's target/);
    // OTA-2 has no firmware: its token cannot read OTA-1's image.
    const stranger = await get('ota-token-two-0123456789', 'title=spms-esp32&version=1.0.0&size=1024&chunk=0');
    expect(stranger.statusCode).toBe(404);
    expect((await get('no-such-token-0123456789', 'title=spms-esp32&version=1.0.0')).statusCode).toBe(401);
    expect((await get(token, 'version=1.0.0')).statusCode).toBe(400);
  });
});
