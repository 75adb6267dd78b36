import {
  createTestDatabase,
  createTestRedis,
  readIngestBatches,
  type TestDatabase,
  type TestRedis,
} from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { adminAuth, bearer, createKey, testEnv } from '../users/access-fixtures.js';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
const dev = {} as Record<'north' | 'south', string>;
let northViewer: { authorization: string };
let seq = 0;

async function addDevice(name: string, region: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/devices', headers: adminAuth, payload: { name, region } });
  expect(res.statusCode).toBe(201);
  return res.json().id;
}

/** A dead letter as the worker writes it; `ts` lets a test make the message (in)valid. */
async function deadLetter(deviceId: string | null, ts?: number): Promise<{ id: string; msg: Record<string, unknown> }> {
  const receivedAt = Date.now() - 3_600_000; // it waited: judged against its own receive time
  const msg = {
    id: `msg-${++seq}`,
    deviceId: deviceId ?? 'not-a-device',
    receivedAt,
    transport: 'mqtt',
    kind: 'telemetry',
    entries: [{ ...(ts === undefined ? {} : { ts }), values: { 1: false } }],
  };
  const { rows } = await app.pg.query<{ id: string }>(
    `INSERT INTO dead_letters (queue, job_id, job_name, message_id, device_id, received_at, reason, payload)
     VALUES ('ingest', $1, 'batch', $2, $3, to_timestamp($4 / 1000.0), 'messages[0].entries[0].ts: bad', $5::jsonb)
     RETURNING id::text`,
    [`job-${seq}`, msg.id, deviceId, receivedAt, JSON.stringify(msg)],
  );
  return { id: rows[0]?.id as string, msg };
}

beforeAll(async () => {
  db = await createTestDatabase('dead_letters_api');
  redis = createTestRedis('dead_letters_api');
  app = await buildApp(loadApiConfig(testEnv(db, redis)));
  dev.north = await addDevice('DL_N', 'North');
  dev.south = await addDevice('DL_S', 'South');
  northViewer = bearer((await createKey(app, { name: 'nv', role: 'viewer', regions: ['North'] })).key);
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

describe('/api/dead-letters', () => {
  it('lists newest first in the caller scope, with total, filters and keyset pages', async () => {
    const n1 = await deadLetter(dev.north);
    const s1 = await deadLetter(dev.south);
    const n2 = await deadLetter(dev.north);
    const orphan = await deadLetter(null);
    const all = (await app.inject({ url: '/api/dead-letters?status=open', headers: adminAuth })).json();
    expect(all.items.map((d: { id: string }) => d.id)).toEqual([orphan.id, n2.id, s1.id, n1.id]);
    expect(all.total).toBe(4);
    expect(all.items[1]).toMatchObject({
      deviceId: dev.north,
      deviceName: 'DL_N',
      messageId: n2.msg.id,
      payload: n2.msg,
    });

    const north = (await app.inject({ url: '/api/dead-letters?status=open', headers: northViewer })).json();
    expect(north.items.map((d: { id: string }) => d.id)).toEqual([n2.id, n1.id]);
    expect(north.total).toBe(2);
    expect((await app.inject({ url: `/api/dead-letters/${s1.id}`, headers: northViewer })).statusCode).toBe(404);

    const page1 = (await app.inject({ url: '/api/dead-letters?device=DL_N&limit=1', headers: adminAuth })).json();
    expect(page1.items.map((d: { id: string }) => d.id)).toEqual([n2.id]);
    const page2 = (
      await app.inject({ url: `/api/dead-letters?device=DL_N&limit=1&cursor=${page1.nextCursor}`, headers: adminAuth })
    ).json();
    expect(page2.items.map((d: { id: string }) => d.id)).toEqual([n1.id]);
    expect(page2.nextCursor).toBeNull();
  });

  it('replays a message valid under the current rules through the ingest queue, idempotently', async () => {
    const { id, msg } = await deadLetter(dev.north);
    for (let i = 0; i < 2; i++) {
      const res = await app.inject({ method: 'POST', url: `/api/dead-letters/${id}/replay`, headers: adminAuth });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'replayed', resolvedBy: expect.any(String) });
    }
    const queued = (await readIngestBatches(redis.url, redis.prefix)).flatMap((b) => b.messages);
    // Same id and receive time both times: the worker records it once.
    expect(queued.filter((m) => m.id === msg.id)).toEqual([msg, msg]);
    const audit = (await app.inject({ url: '/api/audit?entityType=dead_letter', headers: adminAuth })).json();
    expect(JSON.stringify(audit)).toContain('dead_letter.replay');
  });

  it('answers 422 with the reason when the message is still invalid, and 409 once discarded', async () => {
    const seconds = await deadLetter(dev.north, 1733150000);
    const res = await app.inject({ method: 'POST', url: `/api/dead-letters/${seconds.id}/replay`, headers: adminAuth });
    expect(res.statusCode).toBe(422);
    expect(res.json().message).toMatch(/still invalid .* looks like seconds: send milliseconds/);
    const discarded = await app.inject({
      method: 'POST',
      url: `/api/dead-letters/${seconds.id}/discard`,
      headers: adminAuth,
    });
    expect(discarded.json()).toMatchObject({ status: 'discarded' });
    const again = await app.inject({
      method: 'POST',
      url: `/api/dead-letters/${seconds.id}/replay`,
      headers: adminAuth,
    });
    expect(again.statusCode).toBe(409);
    const viewer = await app.inject({
      method: 'POST',
      url: `/api/dead-letters/${seconds.id}/discard`,
      headers: northViewer,
    });
    expect(viewer.statusCode).toBe(403);
  });
});
