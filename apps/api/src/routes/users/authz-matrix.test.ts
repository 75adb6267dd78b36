/**
 * Authorization matrix: role × scope × route, table-driven over the registry routes and the
 * access-control routes. Each cell expects 'ok' (2xx), 'forbidden' (403) or 'hidden' (404,
 * a device outside the caller's scope answers exactly like a missing one).
 */
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import { adminAuth, bearer, createKey, createUser, signIn, testEnv } from './access-fixtures.js';

type Who = 'admin' | 'operator' | 'viewer' | 'northViewer' | 'northOperator';
type Outcome = 'ok' | 'forbidden' | 'hidden';
const WHO: Who[] = ['admin', 'operator', 'viewer', 'northViewer', 'northOperator'];
const RANK = { viewer: 0, operator: 1, admin: 2 } as const;
const ROLE: Record<Who, keyof typeof RANK> = {
  admin: 'admin',
  operator: 'operator',
  viewer: 'viewer',
  northViewer: 'viewer',
  northOperator: 'operator',
};
const scoped = (w: Who) => w.startsWith('north');

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
const auth = {} as Record<Who, { authorization: string }>;
let seq = 0;
const unique = (p: string) => `${p}_${++seq}`;

async function device(region: string): Promise<string> {
  const name = unique(`M${region[0]}`);
  const res = await app.inject({ method: 'POST', url: '/api/devices', headers: adminAuth, payload: { name, region } });
  expect(res.statusCode).toBe(201);
  return name;
}

beforeAll(async () => {
  db = await createTestDatabase('authz');
  redis = createTestRedis('authz');
  app = await buildApp(loadApiConfig(testEnv(db, redis)));
  // Sessions for three users, and scoped principals both ways: a scoped user's session and
  // an API key scoped to North owned by an unscoped operator (the key narrows the owner).
  for (const role of ['admin', 'operator', 'viewer'] as const) {
    const u = await createUser(app, { username: role, role });
    auth[role] = bearer(await signIn(app, role, u.password));
  }
  const nv = await createUser(app, { username: 'north-viewer', role: 'viewer', regions: ['North'] });
  auth.northViewer = bearer(await signIn(app, 'north-viewer', nv.password));
  const owner = await createUser(app, { username: 'script-owner', role: 'operator' });
  auth.northOperator = bearer(
    (await createKey(app, { name: 'north script', role: 'operator', userId: owner.id, regions: ['North'] })).key,
  );
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

interface Row {
  name: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** minimum role */
  role: keyof typeof RANK;
  /** which device the request targets: scoped callers get 404 for South */
  target?: 'North' | 'South';
  /** a fresh device per cell (destructive routes) */
  fresh?: boolean;
  /** scoped callers are refused outright (fleet-wide resources, placement outside scope) */
  scopedForbidden?: boolean;
  url: (dev: string) => string;
  body?: (dev: string) => unknown;
  csv?: (dev: string) => string;
}

const ROWS: Row[] = [
  { name: 'list devices', method: 'GET', role: 'viewer', url: () => '/api/devices' },
  { name: 'get device (North)', method: 'GET', role: 'viewer', target: 'North', url: (d) => `/api/devices/${d}` },
  { name: 'get device (South)', method: 'GET', role: 'viewer', target: 'South', url: (d) => `/api/devices/${d}` },
  {
    name: 'device state (South)',
    method: 'GET',
    role: 'viewer',
    target: 'South',
    url: (d) => `/api/devices/${d}/state`,
  },
  {
    name: 'attributes (South)',
    method: 'GET',
    role: 'viewer',
    target: 'South',
    url: (d) => `/api/devices/${d}/attributes`,
  },
  { name: 'status', method: 'GET', role: 'viewer', url: () => '/api/status' },
  { name: 'compact status', method: 'GET', role: 'viewer', url: () => '/api/status/compact' },
  {
    name: 'create device North',
    method: 'POST',
    role: 'operator',
    url: () => '/api/devices',
    body: () => ({ name: unique('NEW'), region: 'North' }),
  },
  {
    name: 'create device South',
    method: 'POST',
    role: 'operator',
    scopedForbidden: true,
    url: () => '/api/devices',
    body: () => ({ name: unique('NEW'), region: 'South' }),
  },
  {
    name: 'update (North)',
    method: 'PATCH',
    role: 'operator',
    target: 'North',
    url: (d) => `/api/devices/${d}`,
    body: () => ({ label: 'x' }),
  },
  {
    name: 'update (South)',
    method: 'PATCH',
    role: 'operator',
    target: 'South',
    url: (d) => `/api/devices/${d}`,
    body: () => ({ label: 'x' }),
  },
  {
    name: 'move North → South',
    method: 'PATCH',
    role: 'operator',
    target: 'North',
    fresh: true,
    scopedForbidden: true,
    url: (d) => `/api/devices/${d}`,
    body: () => ({ region: 'South' }),
  },
  {
    name: 'delete (North)',
    method: 'DELETE',
    role: 'operator',
    target: 'North',
    fresh: true,
    url: (d) => `/api/devices/${d}`,
  },
  {
    name: 'delete (South)',
    method: 'DELETE',
    role: 'operator',
    target: 'South',
    fresh: true,
    url: (d) => `/api/devices/${d}`,
  },
  {
    name: 'rotate credentials (South)',
    method: 'POST',
    role: 'operator',
    target: 'South',
    url: (d) => `/api/devices/${d}/credentials`,
    body: () => ({ type: 'ACCESS_TOKEN' }),
  },
  {
    name: 'revoke credentials (North)',
    method: 'DELETE',
    role: 'operator',
    target: 'North',
    url: (d) => `/api/devices/${d}/credentials`,
  },
  {
    name: 'push attributes (South)',
    method: 'POST',
    role: 'operator',
    target: 'South',
    url: (d) => `/api/devices/${d}/attributes`,
    body: () => ({ shared: { interval: 30 } }),
  },
  {
    name: 'rpc (North)',
    method: 'POST',
    role: 'operator',
    target: 'North',
    url: (d) => `/api/devices/${d}/rpc`,
    body: () => ({ method: 'ping', oneway: true, timeoutMs: 1000 }),
  },
  {
    name: 'import history (North)',
    method: 'POST',
    role: 'operator',
    target: 'North',
    url: (d) => `/api/devices/${d}/telemetry`,
    body: () => [{ ts: Date.UTC(2026, 0, 1), values: { '1': 'true', V: '230.5' } }],
  },
  {
    name: 'import history (South)',
    method: 'POST',
    role: 'operator',
    target: 'South',
    url: (d) => `/api/devices/${d}/telemetry`,
    body: () => [{ ts: Date.UTC(2026, 0, 1), values: { '1': 'true' } }],
  },
  {
    name: 'import North',
    method: 'POST',
    role: 'operator',
    url: () => '/api/devices/import',
    csv: () => `name,region\n${unique('IMP')},North\n`,
  },
  {
    name: 'import South',
    method: 'POST',
    role: 'operator',
    scopedForbidden: true, // 400 naming the row, not 403: see expectation below
    url: () => '/api/devices/import',
    csv: () => `name,region\n${unique('IMP')},South\n`,
  },
  { name: 'list profiles', method: 'GET', role: 'viewer', url: () => '/api/profiles' },
  {
    name: 'create profile',
    method: 'POST',
    role: 'operator',
    scopedForbidden: true,
    url: () => '/api/profiles',
    body: () => ({ name: unique('P') }),
  },
  { name: 'list planned', method: 'GET', role: 'viewer', url: () => '/api/planned' },
  {
    name: 'plan for device (South)',
    method: 'POST',
    role: 'operator',
    target: 'South',
    url: () => '/api/planned',
    body: (d) => ({
      device: d,
      startsAt: '2026-12-01T09:00:00+05:30',
      endsAt: '2026-12-01T11:00:00+05:30',
      reason: 'load shedding',
    }),
  },
  {
    name: 'plan for region South',
    method: 'POST',
    role: 'operator',
    scopedForbidden: true,
    url: () => '/api/planned',
    body: () => ({ region: 'South', startsAt: '2026-12-01T09:00:00Z', endsAt: '2026-12-01T10:00:00Z', reason: 'x' }),
  },
  { name: 'list users', method: 'GET', role: 'admin', url: () => '/api/users' },
  {
    name: 'create user',
    method: 'POST',
    role: 'admin',
    url: () => '/api/users',
    body: () => ({ username: unique('u'), role: 'viewer', password: 'long-enough-password' }),
  },
  { name: 'list API keys', method: 'GET', role: 'admin', url: () => '/api/api-keys' },
  {
    name: 'create API key',
    method: 'POST',
    role: 'admin',
    url: () => '/api/api-keys',
    body: () => ({ name: 'k', role: 'viewer' }),
  },
  { name: 'audit log', method: 'GET', role: 'admin', url: () => '/api/audit' },
  { name: 'list dead letters', method: 'GET', role: 'viewer', url: () => '/api/dead-letters' },
  {
    name: 'dead letter (South)',
    method: 'GET',
    role: 'viewer',
    target: 'South',
    url: (d) => `/api/dead-letters/${deadLetterOf[d]}`,
  },
  {
    name: 'replay dead letter (North)',
    method: 'POST',
    role: 'operator',
    target: 'North',
    url: (d) => `/api/dead-letters/${deadLetterOf[d]}/replay`,
  },
  {
    name: 'replay dead letter (South)',
    method: 'POST',
    role: 'operator',
    target: 'South',
    url: (d) => `/api/dead-letters/${deadLetterOf[d]}/replay`,
  },
  {
    name: 'discard dead letter (South)',
    method: 'POST',
    role: 'operator',
    target: 'South',
    url: (d) => `/api/dead-letters/${deadLetterOf[d]}/discard`,
  },
];

/** A dead letter per shared device (a valid message, so a replay succeeds), by device name. */
const deadLetterOf: Record<string, string> = {};
async function seedDeadLetter(name: string): Promise<void> {
  const { rows } = await app.pg.query<{ id: string }>('SELECT id FROM devices WHERE name = $1', [name]);
  const deviceId = rows[0]?.id as string;
  const receivedAt = Date.now();
  const msg = {
    id: unique('msg'),
    deviceId,
    receivedAt,
    transport: 'mqtt',
    kind: 'telemetry',
    entries: [{ values: { 1: true } }],
  };
  const dl = await app.pg.query<{ id: string }>(
    `INSERT INTO dead_letters (queue, job_id, job_name, message_id, device_id, received_at, reason, payload)
     VALUES ('ingest', $1, 'batch', $2, $3, to_timestamp($4 / 1000.0), 'test', $5::jsonb) RETURNING id::text`,
    [unique('job'), msg.id, deviceId, receivedAt, JSON.stringify(msg)],
  );
  deadLetterOf[name] = dl.rows[0]?.id as string;
}

function expected(row: Row, who: Who): Outcome {
  if (RANK[ROLE[who]] < RANK[row.role]) return 'forbidden';
  if (scoped(who) && row.target === 'South') return 'hidden';
  if (scoped(who) && row.scopedForbidden) return 'forbidden';
  return 'ok';
}

function outcome(status: number, row: Row): Outcome | number {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'hidden';
  // An import is validated as a whole: an out-of-scope row is a 400 naming the row.
  if (status === 400 && row.csv) return 'forbidden';
  return status;
}

describe('authorization matrix', () => {
  it('answers every role × scope × route cell as the table says', async () => {
    const shared = { North: await device('North'), South: await device('South') };
    for (const name of Object.values(shared)) await seedDeadLetter(name);
    const mismatches: string[] = [];
    for (const row of ROWS) {
      for (const who of WHO) {
        const dev = row.target ? (row.fresh ? await device(row.target) : shared[row.target]) : '';
        const res = await app.inject({
          method: row.method,
          url: row.url(dev),
          headers: { ...auth[who], ...(row.csv ? { 'content-type': 'text/csv' } : {}) },
          ...(row.csv ? { payload: row.csv(dev) } : row.body ? { payload: row.body(dev) as object } : {}),
        });
        const got = outcome(res.statusCode, row);
        const want = expected(row, who);
        if (got !== want)
          mismatches.push(`${row.name} as ${who}: want ${want}, got ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('lists and counts only in-scope devices for a region-scoped viewer', async () => {
    await device('North');
    await device('South');
    const all = (await app.inject({ url: '/api/devices?limit=1000', headers: adminAuth })).json();
    const north = (await app.inject({ url: '/api/devices?limit=1000', headers: auth.northViewer })).json();
    expect(all.items.some((d: { region: string }) => d.region === 'South')).toBe(true);
    expect(north.items.length).toBeGreaterThan(0);
    expect(north.items.every((d: { region: string }) => d.region === 'North')).toBe(true);
    expect(north.total).toBe(all.items.filter((d: { region: string }) => d.region === 'North').length);
    // Asking for another region explicitly shows nothing rather than widening the scope.
    const south = (await app.inject({ url: '/api/devices?region=South', headers: auth.northViewer })).json();
    expect(south).toEqual({ items: [], total: 0 });
  });

  it('refuses everything without a valid bearer', async () => {
    for (const row of ROWS) {
      const res = await app.inject({ method: row.method, url: row.url('x'), headers: bearer('spms_s_nope') });
      expect(res.statusCode, row.name).toBe(401);
    }
  });
});
