import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CHECKSUM_ALGORITHMS, checksumOf } from '@spms/firmware';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const MAX = 1024 * 1024;

let t: TestApi;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestApi('firmware', { FIRMWARE_MAX_BYTES: String(MAX) });
  app = t.app;
});
afterAll(async () => {
  await t?.close();
});

const upload = (q: Record<string, string>, image: Buffer, headers: Record<string, string> = auth) =>
  app.inject({
    method: 'POST',
    url: `/api/firmware?${new URLSearchParams(q)}`,
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    payload: image,
  });

const largeObjects = async () =>
  (await app.pg.query('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows[0].n as number;
const firmwareRows = async () => (await app.pg.query('SELECT count(*)::int AS n FROM firmware')).rows[0].n as number;

describe('firmware upload', () => {
  it('stores an image with each algorithm when the checksum matches, and refuses a wrong one leaving nothing', async () => {
    for (const alg of CHECKSUM_ALGORITHMS) {
      const image = randomBytes(300_000 + Math.floor(Math.random() * 1000));
      const before = { lo: await largeObjects(), rows: await firmwareRows() };
      const wrong = checksumOf(alg, Buffer.concat([image, Buffer.from([1])]));
      const bad = await upload({ title: `fw-${alg}`, version: '1.0', checksumAlgorithm: alg, checksum: wrong }, image);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toContain(`expected ${wrong}, computed ${checksumOf(alg, image)}`);
      expect({ lo: await largeObjects(), rows: await firmwareRows() }).toEqual(before);

      const checksum = checksumOf(alg, image).toUpperCase();
      const ok = await upload({ title: `fw-${alg}`, version: '1.0', checksumAlgorithm: alg, checksum }, image);
      expect(ok.statusCode).toBe(201);
      expect(ok.json()).toMatchObject({
        title: `fw-${alg}`,
        version: '1.0',
        size: image.length,
        checksum: checksumOf(alg, image),
        checksumAlgorithm: alg,
        sha256: checksumOf('SHA256', image),
      });
      expect(await largeObjects()).toBe(before.lo + 1);
      const back = await app.inject({ method: 'GET', url: `/api/firmware/${ok.json().id}/image`, headers: auth });
      expect(back.statusCode).toBe(200);
      expect(back.rawPayload.equals(image)).toBe(true);
    }
  });

  it('accepts a CRC32 in the usual byte order (what crc32 tools print) and stores ThingsBoard’s', async () => {
    const image = Buffer.from('The quick brown fox jumps over the lazy dog');
    const res = await upload({ title: 'crc', version: '1', checksumAlgorithm: 'CRC32', checksum: '0x414FA339' }, image);
    expect(res.statusCode).toBe(201);
    expect(res.json().checksum).toBe('39a34f41');
  });

  it('refuses too large (413), duplicate (409), empty and malformed checksums (400), non-admins (403)', async () => {
    const big = randomBytes(MAX + 1);
    const q = (title: string, image: Buffer) => ({
      title,
      version: '1',
      checksumAlgorithm: 'SHA256',
      checksum: checksumOf('SHA256', image),
    });
    const lo = await largeObjects();
    const tooLarge = await upload(q('big', big), big);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().message).toMatch(/FIRMWARE_MAX_BYTES/);
    expect(await largeObjects()).toBe(lo);

    const image = randomBytes(1000);
    expect((await upload(q('dup', image), image)).statusCode).toBe(201);
    const dup = await upload(q('dup', image), image);
    expect(dup.statusCode).toBe(409);
    expect(dup.json().message).toMatch(/"dup" version "1" exists/);

    const empty = await upload(
      { ...q('empty', image), checksum: checksumOf('SHA256', Buffer.alloc(0)) },
      Buffer.alloc(0),
    );
    expect(empty.statusCode).toBe(400);
    const short = await upload({ ...q('short', image), checksum: 'abcd' }, image);
    expect(short.statusCode).toBe(400);
    expect(short.json().message).toMatch(/64 hex digits/);
    const unknownAlg = await upload({ ...q('alg', image), checksumAlgorithm: 'SHA1' }, image);
    expect(unknownAlg.statusCode).toBe(400);
    const asJson = await app.inject({
      method: 'POST',
      url: `/api/firmware?${new URLSearchParams(q('json', image))}`,
      headers: auth,
      payload: { image: 'base64?' },
    });
    expect(asJson.statusCode).toBe(400);
    expect(asJson.json().message).toMatch(/application\/octet-stream/);
    const multipart = await app.inject({
      method: 'POST',
      url: `/api/firmware?${new URLSearchParams(q('form', image))}`,
      headers: { ...auth, 'content-type': 'multipart/form-data; boundary=x' },
      payload: '--x--',
    });
    expect(multipart.statusCode).toBe(415);
    expect(await largeObjects()).toBe(lo + 1);

    const viewer = await app.inject({
      method: 'POST',
      url: '/api/api-keys',
      headers: auth,
      payload: { name: 'op', role: 'operator' },
    });
    const opAuth = { authorization: `Bearer ${viewer.json().key}` };
    expect((await upload(q('op', image), image, opAuth)).statusCode).toBe(403);
  });

  it('streams an 8 MiB image over a real socket within the route’s own limit; other routes keep theirs', async () => {
    const big = await createTestApi('firmware_big');
    try {
      await big.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = big.app.server.address() as AddressInfo;
      const block = randomBytes(64 * 1024);
      const blocks = 128; // 8 MiB, sent as a stream: the client never holds it whole either
      const image = Buffer.concat(Array.from({ length: blocks }, () => block));
      const checksum = checksumOf('SHA512', image);
      const body = new ReadableStream<Uint8Array>({
        start() {},
        pull(controller) {
          if (sent++ < blocks) controller.enqueue(block);
          else controller.close();
        },
      });
      let sent = 0;
      const res = await fetch(
        `http://127.0.0.1:${port}/api/firmware?title=big&version=1&checksumAlgorithm=SHA512&checksum=${checksum}`,
        {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/octet-stream' },
          body,
          duplex: 'half',
        } as RequestInit,
      );
      expect(res.status).toBe(201);
      expect((await res.json()).size).toBe(8 * 1024 * 1024);
      // The JSON routes still refuse a body over their limit, and octet-stream elsewhere.
      const elsewhere = await fetch(`http://127.0.0.1:${port}/api/profiles`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body: 'x',
      });
      expect(elsewhere.status).toBe(415);
    } finally {
      await big.close();
    }
  });
});

describe('firmware upload aborted by the client', () => {
  it('rolls back and gives the connection back when the client goes away mid-body', async () => {
    const aborted = await createTestApi('firmware_abort');
    try {
      await aborted.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = aborted.app.server.address() as AddressInfo;
      const image = randomBytes(512 * 1024);
      const checksum = checksumOf('SHA256', image);
      const { request } = await import('node:http');
      const req = request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/api/firmware?title=abort&version=1&checksumAlgorithm=SHA256&checksum=${checksum}`,
        headers: { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(image.length) },
      });
      req.on('error', () => {});
      req.write(image.subarray(0, 300 * 1024));
      // The server is inside the upload's transaction, waiting for the rest.
      await expect
        .poll(async () => {
          const { rows } = await aborted.app.pg.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
          );
          return rows[0].n;
        })
        .toBe(1);
      req.destroy();
      await expect
        .poll(async () => {
          const { rows } = await aborted.app.pg.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
          );
          return rows[0].n;
        })
        .toBe(0);
      const left = await aborted.app.pg.query(
        'SELECT (SELECT count(*)::int FROM firmware) AS rows, (SELECT count(*)::int FROM pg_largeobject_metadata) AS objects',
      );
      expect(left.rows[0]).toEqual({ rows: 0, objects: 0 });
    } finally {
      await aborted.close();
    }
  });
});

describe('firmware list, show, delete', () => {
  it('lists paged, shows where it is assigned, deletes and unlinks the image; 409 while assigned', async () => {
    const image = randomBytes(5000);
    const created = await upload(
      { title: 'del', version: '1', checksumAlgorithm: 'MD5', checksum: checksumOf('MD5', image) },
      image,
    );
    const id = created.json().id as string;
    const list = await app.inject({ method: 'GET', url: '/api/firmware?limit=2', headers: auth });
    expect(list.json().items).toHaveLength(2);
    expect(list.json().total).toBeGreaterThan(2);
    const byTitle = await app.inject({ method: 'GET', url: '/api/firmware?title=del', headers: auth });
    expect(byTitle.json()).toMatchObject({ total: 1, items: [{ id }] });

    await app.inject({ method: 'POST', url: '/api/devices', headers: auth, payload: { name: 'FW1' } });
    const patched = await app.inject({
      method: 'PATCH',
      url: '/api/devices/FW1',
      headers: auth,
      payload: { firmwareId: id },
    });
    expect(patched.statusCode).toBe(200);
    const shown = await app.inject({ method: 'GET', url: `/api/firmware/${id}`, headers: auth });
    expect(shown.json().assigned).toEqual({ profiles: [], devices: 1, targetDevices: 1, activeRollouts: 0 });

    const lo = await largeObjects();
    const refused = await app.inject({ method: 'DELETE', url: `/api/firmware/${id}`, headers: auth });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().message).toMatch(/1 devices/);
    await app.inject({ method: 'PATCH', url: '/api/devices/FW1', headers: auth, payload: { firmwareId: null } });
    const deleted = await app.inject({ method: 'DELETE', url: `/api/firmware/${id}`, headers: auth });
    expect(deleted.statusCode).toBe(200);
    expect(await largeObjects()).toBe(lo - 1);
    expect((await app.inject({ method: 'GET', url: `/api/firmware/${id}`, headers: auth })).statusCode).toBe(404);
    const audit = await app.pg.query(
      "SELECT action FROM audit_log WHERE entity_type = 'firmware' AND entity_id = $1 ORDER BY id",
      [id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['firmware.upload', 'firmware.delete']);
  });
});
