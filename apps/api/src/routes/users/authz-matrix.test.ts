/**
 * Authorization matrix: role × scope × route, table-driven over every operator route (the
 * rows are in test-support/authz-rows-*.ts, their entities in test-support/authz-fixtures.ts).
 * Each cell expects 'ok' (2xx), 'forbidden' (403) or 'hidden' (404: a device or entity
 * outside the caller's scope answers exactly like a missing one). A route in the OpenAPI
 * document that no row exercises fails the suite, unless it is public by design (PUBLIC below).
 */
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';
import {
  type Ctx,
  createFixtures,
  type Fixtures,
  isScoped,
  ROLE,
  type Row,
  seedShared,
  uncoveredRoutes,
  type Who,
} from '../../test-support/authz-fixtures.js';
import { accessRows } from '../../test-support/authz-rows-access.js';
import { deviceRows } from '../../test-support/authz-rows-devices.js';
import { emailRows } from '../../test-support/authz-rows-email.js';
import { escalationRows } from '../../test-support/authz-rows-escalation.js';
import { firmwareRows, type RawBodyRow } from '../../test-support/authz-rows-firmware.js';
import { provisioningRows } from '../../test-support/authz-rows-provisioning.js';
import { rolloutRows } from '../../test-support/authz-rows-rollouts.js';
import { rpcRows } from '../../test-support/authz-rows-rpc.js';
import { DAY_FROM, DAY_TO, S1, seedKnownHistory } from '../../test-support/known-history.js';
import { connect } from '../../test-support/sse-client.js';
import { adminAuth, bearer, createKey, createUser, signIn, testEnv } from './access-fixtures.js';

type Outcome = 'ok' | 'forbidden' | 'hidden';
const WHO: Who[] = ['admin', 'operator', 'viewer', 'northViewer', 'northOperator'];
const RANK = { viewer: 0, operator: 1, admin: 2 } as const;

/** Routes outside the matrix on purpose, each with why: they take no operator bearer. */
const PUBLIC: { path: RegExp; method: string; why: string }[] = [
  { path: /^\/api\/v1\//, method: '*', why: 'ThingsBoard device API: the device token in the URL authenticates' },
  { path: /^\/api\/sms\/status\/?$/, method: 'POST', why: "Twilio's delivery receipts: the Twilio signature" },
  {
    path: /^\/api\/sms\/inbound\/?$/,
    method: 'POST',
    why: "Twilio's inbound texts (replies by SMS): the Twilio signature; acknowledges only within the sender's recipient scope",
  },
  { path: /^\/api\/auth\/login$/, method: 'POST', why: 'sign-in: username and password (rate-limited)' },
  { path: /^\/healthz$/, method: 'GET', why: 'liveness probe: says nothing but "ok"' },
  { path: /^\/readyz$/, method: 'GET', why: 'readiness probe: PostgreSQL, Redis and durability status only' },
  { path: /^\/config\.json$/, method: 'GET', why: "the dashboard's public settings, read before sign-in" },
];
const isPublic = (path: string, method: string) =>
  PUBLIC.some((p) => p.path.test(path) && (p.method === '*' || p.method === method));

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let base: string;
const f: Fixtures = createFixtures(() => app);
const ROWS: Row[] = [
  ...deviceRows(f),
  ...accessRows(f),
  ...escalationRows(f, () => app),
  ...emailRows(() => app),
  ...provisioningRows(f, () => app),
  ...rolloutRows(() => app),
  ...firmwareRows(f, () => app),
  ...rpcRows(f, () => app),
];
const auth = {} as Record<Who, { authorization: string }>;

beforeAll(async () => {
  db = await createTestDatabase('authz');
  redis = createTestRedis('authz');
  // Sacrificial sessions sign in per cell: more than the default ten sign-ins a minute.
  app = await buildApp(loadApiConfig(testEnv(db, redis, { SIGNIN_RATE_LIMIT_PER_MIN: '1000' })));
  base = await app.listen({ host: '127.0.0.1', port: 0 });
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
  await seedShared(f);
});

afterAll(async () => {
  await app?.close();
  await redis?.cleanup();
  await db?.drop();
});

function expected(row: Row, who: Who): Outcome {
  if (RANK[ROLE[who]] < RANK[row.role]) return 'forbidden';
  if (isScoped(who) && row.target === 'South') return 'hidden';
  if (isScoped(who) && row.scopedForbidden) return 'forbidden';
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

/** Status only for a stream: the response headers arrive, then the request is aborted. */
async function streamStatus(url: string, headers: { authorization: string }): Promise<number> {
  const s = await connect(`${base}${url}`, headers);
  s.close();
  return s.status;
}

/** Runs one cell; returns the mismatch, if any. */
async function runCell(row: Row, who: Who): Promise<string | undefined> {
  const region = row.target ?? 'North';
  const dev = row.target ? (row.fresh ? await f.device(region) : f.shared.device[region]) : '';
  const id = row.entity ? await row.entity(region, dev) : '';
  const self = row.self ? await f.session(who) : undefined;
  const c: Ctx = { dev, region, id, password: self?.password ?? '' };
  const headers = self ? { authorization: self.authorization } : auth[who];
  let status: number;
  let body = '';
  if (row.stream) status = await streamStatus(row.url(c), headers);
  else {
    const raw = (row as RawBodyRow).octet?.(c);
    const res = await app.inject({
      method: row.method,
      url: row.url(c),
      headers: {
        ...headers,
        ...(row.csv ? { 'content-type': 'text/csv' } : {}),
        ...(raw ? { 'content-type': 'application/octet-stream' } : {}),
      },
      ...(row.csv
        ? { payload: row.csv(c) }
        : raw
          ? { payload: raw }
          : row.body
            ? { payload: row.body(c) as object }
            : {}),
    });
    status = res.statusCode;
    body = res.body.slice(0, 200);
  }
  const got = outcome(status, row);
  const want = expected(row, who);
  return got === want ? undefined : `${row.name} as ${who}: want ${want}, got ${status} ${body}`;
}

describe('authorization matrix', () => {
  it('has a row for every operator route of the OpenAPI document', () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const ctx: Ctx = { dev: 'dev', region: 'North', id: 'id', password: '' };
    const urls = ROWS.map((r) => ({ method: r.method, url: r.url(ctx) }));
    expect(Object.keys(doc.paths).length).toBeGreaterThan(40);
    expect(uncoveredRoutes(doc.paths, urls, isPublic)).toEqual([]);
    // Every public entry still names a route (a stale one would hide nothing, but mislead).
    const paths = Object.keys(doc.paths);
    expect(PUBLIC.filter((p) => !paths.some((path) => p.path.test(path))).map((p) => p.why)).toEqual([]);
    // The check itself: a route no row exercises is named.
    expect(uncoveredRoutes({ '/api/new/{id}': { get: {} } }, urls, isPublic)).toEqual(['GET /api/new/{id}']);
  });

  // One test per row: its cells as the table says.
  for (const row of ROWS) {
    it(`${row.method} ${row.name}: every role × scope as the table says`, async () => {
      const mismatches: string[] = [];
      for (const who of WHO) {
        const mismatch = await runCell(row, who);
        if (mismatch) mismatches.push(mismatch);
      }
      expect(mismatches).toEqual([]);
    });
  }

  it('lists and counts only in-scope devices for a region-scoped viewer', async () => {
    await f.device('North');
    await f.device('South');
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

  it('shows a North-scoped caller no South entity in any list (the admin sees them)', async () => {
    // South data in every list: outages and day reports (the read-side seed), a text, a device window.
    await seedKnownHistory(app.pg);
    const southAlert = f.shared.alert.South;
    const text = await app.pg.query<{ id: string }>(
      `INSERT INTO notifications (phone, kind, body, status, provider, attempts)
       VALUES ('+94771110003', 'outage', 'SPMS: S1_MSAN CEB lost', 'queued', 'twilio', 1) RETURNING id::text`,
    );
    await app.pg.query('INSERT INTO notification_alerts VALUES ($1, $2)', [text.rows[0]?.id, southAlert]);
    const south = f.shared.device.South;
    const window = { device: south, startsAt: DAY_FROM, endsAt: DAY_TO, reason: 'works' };
    const plan = await app.inject({ method: 'POST', url: '/api/planned', headers: adminAuth, payload: window });
    expect(plan.statusCode).toBe(201);
    const southId = await f.deviceId(south);
    const markers = [S1, 'S1_MSAN', southId, `"${south}"`, '"South"'];
    const day = `from=${encodeURIComponent(DAY_FROM)}&to=${encodeURIComponent(DAY_TO)}`;
    const lists = [
      '/api/devices?limit=1000',
      '/api/status',
      '/api/status/compact',
      '/api/alerts',
      '/api/recipients',
      '/api/planned',
      '/api/dead-letters',
      `/api/reports/reliability?groupBy=device&${day}`,
      `/api/reports/reliability?groupBy=region&${day}`,
      `/api/outages?${day}`,
      '/api/notifications',
      // Asking for South by name narrows nothing open: still nothing (or a 404).
      `/api/alerts?deviceId=${southId}`,
      '/api/alerts?region=South',
      '/api/status?region=South',
      '/api/planned?region=South',
      `/api/planned?device=${south}`,
      `/api/outages?device=S1_MSAN&${day}`,
      `/api/outages?region=South&${day}`,
      `/api/notifications?alertId=${southAlert}`,
    ];
    const leaks: string[] = [];
    const unseen: string[] = [];
    for (const url of lists) {
      const all = await app.inject({ url, headers: adminAuth });
      if (!markers.some((m) => all.body.includes(m))) unseen.push(url);
      for (const who of ['northViewer', 'northOperator'] as const) {
        const res = await app.inject({ url, headers: auth[who] });
        expect([200, 404], `${url} as ${who}: ${res.statusCode}`).toContain(res.statusCode);
        const found = markers.filter((m) => res.body.includes(m));
        if (found.length) leaks.push(`${url} as ${who}: ${found.join(', ')}`);
      }
    }
    expect(unseen).toEqual([]);
    expect(leaks).toEqual([]);
  });

  it('signs out or changes a password only for a session: an API key gets a 400 saying so', async () => {
    for (const url of ['/api/auth/logout', '/api/auth/password']) {
      const payload = url.endsWith('password') ? { currentPassword: 'x', newPassword: 'long-enough-password' } : {};
      const res = await app.inject({ method: 'POST', url, headers: auth.northOperator, payload });
      expect(res.statusCode, url).toBe(400);
    }
  });

  it('refuses everything without a valid bearer', async () => {
    const ctx: Ctx = { dev: 'x', region: 'North', id: 'x', password: '' };
    for (const row of ROWS) {
      const headers = bearer('spms_s_nope');
      const status = row.stream
        ? await streamStatus(row.url(ctx), headers)
        : (await app.inject({ method: row.method, url: row.url(ctx), headers })).statusCode;
      expect(status, row.name).toBe(401);
    }
  });
});
