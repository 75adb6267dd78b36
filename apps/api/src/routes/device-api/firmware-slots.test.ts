/**
 * HTTP firmware downloads take the download slots the brokers' MQTT downloads take
 * (@spms/queue download-slots.ts, in Redis): with FW_MAX_CONCURRENT_DOWNLOADS=1 a second
 * device waits, and gets 503 with Retry-After if no slot frees within FW_ADMISSION_WAIT_MS;
 * a slot freed by the last chunk goes to the device waiting for it, on another API process.
 */
import { randomBytes } from 'node:crypto';
import { checksumOf } from '@spms/firmware';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { createTestApi, insertTokenDevice, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const SLOTS = { FW_MAX_CONCURRENT_DOWNLOADS: '1', FW_CHUNK_MAX_BYTES: '4096' };
const A = 'slot-token-a-0123456789';
const B = 'slot-token-b-0123456789';
const image = randomBytes(10_000); // chunks 0..2 of 4096 bytes

let t: TestApi;
let app: FastifyInstance;
/** A second API process on the same database and Redis, which holds requests longer. */
let patient: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('fw_slots_http', { ...SLOTS, FW_ADMISSION_WAIT_MS: '300' });
  app = t.app;
  patient = await buildApp(
    loadApiConfig({
      DATABASE_URL: t.db.url,
      REDIS_URL: t.redis.url,
      REDIS_PREFIX: t.redis.prefix,
      LOG_LEVEL: 'silent',
      ...SLOTS,
      FW_ADMISSION_WAIT_MS: '20000',
    }),
  );
  const upload = await app.inject({
    method: 'POST',
    url: `/api/firmware?title=slots&version=1&checksumAlgorithm=SHA256&checksum=${checksumOf('SHA256', image)}`,
    headers: { ...auth, 'content-type': 'application/octet-stream' },
    payload: image,
  });
  expect(upload.statusCode).toBe(201);
  await insertTokenDevice(app, 'SLOT-A', A);
  await insertTokenDevice(app, 'SLOT-B', B);
  for (const name of ['SLOT-A', 'SLOT-B'])
    expect(
      (
        await app.inject({
          method: 'PATCH',
          url: `/api/devices/${name}`,
          headers: auth,
          payload: { firmwareId: upload.json().id },
        })
      ).statusCode,
    ).toBe(200);
});

afterAll(async () => {
  await patient?.close();
  await t?.close();
});

const chunk = (api: FastifyInstance, token: string, n: number) =>
  api.inject({ method: 'GET', url: `/api/v1/${token}/firmware?title=slots&version=1&size=4096&chunk=${n}` });

describe('HTTP firmware downloads and the download slots (cap 1)', () => {
  it('a second device gets 503 with Retry-After while the first downloads, and its turn after the last chunk', async () => {
    expect((await chunk(app, A, 0)).statusCode).toBe(200);
    const refused = await chunk(app, B, 0);
    expect(refused.statusCode).toBe(503);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.json().message).toMatch(/FW_MAX_CONCURRENT_DOWNLOADS/);
    // The holder keeps its slot for every further chunk; its last one frees it.
    expect((await chunk(app, A, 1)).statusCode).toBe(200);
    const last = await chunk(app, A, 2);
    expect(last.statusCode).toBe(200);
    expect(last.rawPayload.length).toBe(10_000 - 2 * 4096);
    expect((await chunk(app, B, 0)).statusCode).toBe(200);
    // A refused request never takes a slot: B still holds it, A (out of range) gets 400, not 503.
    expect((await chunk(app, A, 9)).statusCode).toBe(400);
  });

  it('a held request is served as soon as the slot frees, on another API process', async () => {
    // B holds the slot (previous test); A waits on the patient process.
    const waiting = chunk(patient, A, 0);
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    await expect.poll(async () => app.redis.zcard(`${t.redis.prefix}:fw:waiting`)).toBe(1);
    expect(settled).toBe(false);
    // B's chunk past the end (ThingsBoard's empty end marker) ends its download.
    const end = await chunk(app, B, 3);
    expect(end.statusCode).toBe(200);
    expect(end.rawPayload.length).toBe(0);
    const served = await waiting;
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload.equals(image.subarray(0, 4096))).toBe(true);
  });
});
