/**
 * Test support for the authorization matrix (authz-matrix.test.ts): the row type, the
 * entities rows target (created through the API as the admin key, or seeded where no route
 * creates them) and the completeness check against the OpenAPI document. No test-only
 * dependencies, so it type-checks with the app like access-fixtures.ts.
 */
import type { FastifyInstance } from 'fastify';
import { adminAuth, createKey, createUser, signIn } from '../routes/users/access-fixtures.js';

export type Who = 'admin' | 'operator' | 'viewer' | 'northViewer' | 'northOperator';
export type Role = 'admin' | 'operator' | 'viewer';
export type Region = 'North' | 'South';
export const ROLE: Record<Who, Role> = {
  admin: 'admin',
  operator: 'operator',
  viewer: 'viewer',
  northViewer: 'viewer',
  northOperator: 'operator',
};
export const isScoped = (w: Who) => w.startsWith('north');

/** What a cell's request is built from. */
export interface Ctx {
  /** the target device's name ('' without a target) */
  dev: string;
  region: Region;
  /** the entity `entity` created for this cell */
  id: string;
  /** the sacrificial session's password (`self` rows) */
  password: string;
}

export interface Row {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** minimum role */
  role: Role;
  /** the device or entity's region: scoped (North) callers get 404 for South */
  target?: Region;
  /** a fresh device per cell (destructive routes) */
  fresh?: boolean;
  /** a fresh entity per cell, in the target region (destructive routes); its id goes in Ctx.id */
  entity?: (region: Region, dev: string) => Promise<string>;
  /** the caller is a sacrificial session with the cell's role and scope (changes or ends itself) */
  self?: boolean;
  /** scoped callers are refused outright (fleet-wide resources, placement outside scope) */
  scopedForbidden?: boolean;
  /** an SSE stream: checked over real HTTP, headers only */
  stream?: boolean;
  url: (c: Ctx) => string;
  body?: (c: Ctx) => unknown;
  csv?: (c: Ctx) => string;
}

let seq = 0;
export const unique = (p: string) => `${p}_${++seq}`;
const PASSWORD = 'correct-horse-battery-staple-9';

async function created(app: FastifyInstance, url: string, payload: object): Promise<{ id: string; name?: string }> {
  const res = await app.inject({ method: 'POST', url, headers: adminAuth, payload });
  if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

/**
 * Entities for the rows: shared ones per region (reads, idempotent changes) and makers for
 * fresh ones. `getApp`: the rows are declared before the app is built (one test per row).
 */
export function createFixtures(getApp: () => FastifyInstance) {
  const shared = {
    device: {} as Record<Region, string>,
    deadLetter: {} as Record<Region, string>,
    alert: {} as Record<Region, string>,
    recipient: {} as Record<Region, string>,
    planned: {} as Record<Region, string>,
    profile: '',
    user: '',
  };
  const f = {
    shared,
    async device(region: Region): Promise<string> {
      return (await created(getApp(), '/api/devices', { name: unique(`M${region[0]}`), region })).name as string;
    },
    async deviceId(name: string): Promise<string> {
      const { rows } = await getApp().pg.query<{ id: string }>('SELECT id::text FROM devices WHERE name = $1', [name]);
      return rows[0]?.id as string;
    },
    /** A dead letter (a valid message, so a replay succeeds). */
    async deadLetter(dev: string): Promise<string> {
      const deviceId = await f.deviceId(dev);
      const receivedAt = Date.now();
      const msg = { id: unique('msg'), deviceId, receivedAt, transport: 'mqtt', kind: 'telemetry' };
      const { rows } = await getApp().pg.query<{ id: string }>(
        `INSERT INTO dead_letters (queue, job_id, job_name, message_id, device_id, received_at, reason, payload)
         VALUES ('ingest', $1, 'batch', $2, $3, to_timestamp($4 / 1000.0), 'test', $5::jsonb) RETURNING id::text`,
        [unique('job'), msg.id, deviceId, receivedAt, JSON.stringify({ ...msg, entries: [{ values: { 1: true } }] })],
      );
      return rows[0]?.id as string;
    },
    /** An open outage alert (only the worker raises alerts, so it is seeded). */
    async alert(dev: string, region: Region): Promise<string> {
      const key = unique('alert');
      const { rows } = await getApp().pg.query<{ id: string }>(
        `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id)
         VALUES ('outage', $2, 'critical', $1, 1, $3, now(), $2) RETURNING id::text`,
        [await f.deviceId(dev), key, region],
      );
      return rows[0]?.id as string;
    },
    /** A recipient subscribed to the region. */
    async recipient(region: Region): Promise<string> {
      const body = { name: unique('duty'), phone: '+94771234567', scopeKind: 'region', scopeValue: region };
      return (await created(getApp(), '/api/recipients', { ...body, kinds: ['outage'] })).id;
    },
    /** A planned interruption of the region (as a whole). */
    async planned(region: Region): Promise<string> {
      const window = { startsAt: '2026-12-01T09:00:00Z', endsAt: '2026-12-01T10:00:00Z', reason: 'maintenance' };
      return (await created(getApp(), '/api/planned', { region, ...window })).id;
    },
    async profile(): Promise<string> {
      return (await created(getApp(), '/api/profiles', { name: unique('P') })).id;
    },
    async user(): Promise<string> {
      return (await createUser(getApp(), { username: unique('target'), role: 'viewer' })).id;
    },
    async key(): Promise<string> {
      return (await createKey(getApp(), { name: unique('target key'), role: 'viewer' })).id;
    },
    /** A signed-in user with the caller's role and scope, for rows that change or end the caller. */
    async session(who: Who): Promise<{ authorization: string; password: string }> {
      const username = unique(`self-${who}`);
      const regions = isScoped(who) ? ['North'] : null;
      await createUser(getApp(), { username, role: ROLE[who], regions, password: PASSWORD });
      return { authorization: `Bearer ${await signIn(getApp(), username, PASSWORD)}`, password: PASSWORD };
    },
  };
  return f;
}
export type Fixtures = ReturnType<typeof createFixtures>;

/** Seeds the shared entities, one per region (and their devices). */
export async function seedShared(f: Fixtures): Promise<void> {
  for (const region of ['North', 'South'] as const) {
    const dev = await f.device(region);
    f.shared.device[region] = dev;
    f.shared.deadLetter[region] = await f.deadLetter(dev);
    f.shared.alert[region] = await f.alert(dev, region);
    f.shared.recipient[region] = await f.recipient(region);
    f.shared.planned[region] = await f.planned(region);
  }
  f.shared.profile = await f.profile();
  f.shared.user = await f.user();
}

/** Operator routes (method + OpenAPI path) that no row's URL matches. */
export function uncoveredRoutes(
  paths: Record<string, Record<string, unknown>>,
  rows: { method: string; url: string }[],
  isPublic: (path: string, method: string) => boolean,
): string[] {
  const trim = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  const missing: string[] = [];
  for (const [path, ops] of Object.entries(paths)) {
    if (!path.startsWith('/api/')) continue;
    const literal = trim(path).replace(/[.*+?^$()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`^${literal.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    for (const method of Object.keys(ops).map((m) => m.toUpperCase())) {
      if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method) || isPublic(path, method)) continue;
      const hit = rows.some((r) => r.method === method && pattern.test(trim(r.url.split('?')[0] as string)));
      if (!hit) missing.push(`${method} ${path}`);
    }
  }
  return missing;
}
