import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, type TestApi } from '../../test-support/test-api.js';
import { adminAuth, bearer, createUser, signIn } from '../users/access-fixtures.js';

// Registry edits made through the API raise no domain event: a delta client must still learn
// of them (the cursor's registry digest), whoever is asking.
let api: TestApi;
let app: FastifyInstance;
let north: Record<string, string>;

beforeAll(async () => {
  api = await createTestApi('status_compact_registry', {
    STATUS_CACHE_MS: '0',
    PASSWORD_SCRYPT_LOG_N: '10',
    PASSWORD_SCRYPT_P: '1',
  });
  app = api.app;
  for (const [name, region] of [
    ['cr_n1', 'North'],
    ['cr_n2', 'North'],
    ['cr_s1', 'South'],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/devices',
      headers: adminAuth,
      payload: { name, region },
    });
    expect(res.statusCode, res.body).toBe(201);
  }
  const user = await createUser(app, { username: 'cr_north', role: 'viewer', regions: ['North'] });
  north = bearer(await signIn(app, 'cr_north', user.password));
});

afterAll(async () => {
  await api?.close();
});

const cursorOf = async (headers: Record<string, string>) => {
  const res = await app.inject({ url: '/api/status/compact', headers });
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json() as { cursor: string; rows: [string, string][] };
  return { cursor: body.cursor, names: body.rows.map((r) => r[1]).sort() };
};
const delta = async (headers: Record<string, string>, cursor: string) =>
  (await app.inject({ url: `/api/status/compact?since=${cursor}`, headers })).json() as {
    reload?: boolean;
    changed?: unknown[];
  };
const edit = async (method: 'PATCH' | 'DELETE', name: string, payload?: Record<string, unknown>) => {
  const res = await app.inject({ method, url: `/api/devices/${name}`, headers: adminAuth, payload });
  expect(res.statusCode, res.body).toBeLessThan(300);
};

describe('compact delta after registry edits through the API', () => {
  it('asks for a reload after a label edit, a move out of the scope and a delete', async () => {
    const first = await cursorOf(north);
    expect(first.names).toEqual(['cr_n1', 'cr_n2']);
    expect(await delta(north, first.cursor)).toMatchObject({ changed: [] });
    await edit('PATCH', 'cr_n1', { label: 'Kandy' });
    expect((await delta(north, first.cursor)).reload).toBe(true);

    const second = await cursorOf(north);
    await edit('PATCH', 'cr_n2', { region: 'South' });
    expect((await delta(north, second.cursor)).reload).toBe(true);
    const third = await cursorOf(north);
    expect(third.names).toEqual(['cr_n1']);

    const whole = await cursorOf(adminAuth);
    await edit('DELETE', 'cr_s1');
    expect((await delta(adminAuth, whole.cursor)).reload).toBe(true);
    // The North's view did not change: its cursor still holds.
    expect(await delta(north, third.cursor)).toMatchObject({ changed: [] });
  });
});
