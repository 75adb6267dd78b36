/**
 * Every call the dashboard makes to @spms/api lives here, so following API changes is cheap.
 * A 404/501 on a route means "this API build does not have it yet": callers get
 * `NotAvailable` and the page says so instead of breaking.
 */
import {
  type Counters,
  countersOf,
  type DeviceState,
  type DeviceStatus,
  fromRegistry,
  fromState,
  fromStatus,
  type RegistryDevice,
  toMs,
} from './normalize.js';
import type { Answer, Item } from './types.js';

export type Role = 'admin' | 'operator' | 'viewer';
/** What the principal may see; null lists = no restriction (the API enforces it). */
export interface Scope {
  regions: string[] | null;
  customers: string[] | null;
}
export interface User {
  username: string;
  role: Role;
  scope: Scope | null;
}
export interface Session {
  token: string;
  expiresAt: string | null;
  user: User;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
export class NotAvailable extends ApiError {}

const SESSION_KEY = 'spms.session';
let session: Session | null = (() => {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
  } catch {
    return null;
  }
})();
const sessionListeners = new Set<() => void>();

export const getSession = () => session;
export function setSession(s: Session | null): void {
  session = s;
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
  for (const l of sessionListeners) l();
}
export function onSession(l: () => void): () => void {
  sessionListeners.add(l);
  return () => sessionListeners.delete(l);
}
export const canEdit = () => session?.user.role === 'operator' || session?.user.role === 'admin';

export async function request(method: string, path: string, body?: unknown, token = session?.token): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.ok) return res;
  let message = `${res.status} ${res.statusText}`;
  try {
    const err = (await res.json()) as { message?: string };
    if (err.message) message = err.message;
  } catch {}
  if (res.status === 401 && session && token === session.token) setSession(null);
  if (res.status === 404 && method === 'GET' && !/\/api\/devices\/[^/]+$/.test(path))
    throw new NotAvailable(404, `not available in this API (${path.split('?')[0]})`);
  if (res.status === 501) throw new NotAvailable(501, message);
  throw new ApiError(res.status, message);
}

/** The JSON answer of a call, typed by the caller from ./types.ts (see there). */
export const json = async <T = unknown>(method: string, path: string, body?: unknown): Promise<T> =>
  (await (await request(method, path, body)).json()) as T;

const qs = (params: Record<string, string | number | boolean | null | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

type Me = Answer<'/api/auth/me'>;
function userOf(raw: Pick<Me, 'role' | 'regions' | 'customers'> & { username?: string }, fallbackName: string): User {
  const scope = { regions: raw.regions, customers: raw.customers };
  return {
    username: raw.username ?? fallbackName,
    role: raw.role,
    scope: scope.regions || scope.customers ? scope : null,
  };
}

export async function login(username: string, password: string): Promise<Session> {
  const res = await request('POST', '/api/auth/login', { username, password }, undefined);
  const body = (await res.json()) as Answer<'/api/auth/login', 'post'>;
  return { token: body.token, expiresAt: body.expiresAt, user: userOf(body.user, username) };
}

/** Sign in with an API key (scripts, kiosks, and API builds without users). */
export async function loginWithKey(key: string): Promise<Session> {
  try {
    const res = await request('GET', '/api/auth/me', undefined, key);
    const body = (await res.json()) as Me;
    return { token: key, expiresAt: null, user: userOf(body.user ?? body, 'API key') };
  } catch (err) {
    if (!(err instanceof NotAvailable)) throw err;
    // No /me: the key is valid if it can list devices; the server still enforces its role.
    await request('GET', '/api/devices?limit=1', undefined, key);
    return { token: key, expiresAt: null, user: { username: 'API key', role: 'operator', scope: null } };
  }
}

export async function logout(): Promise<void> {
  await request('POST', '/api/auth/logout').catch(() => {});
  setSession(null);
}

export interface FleetStatus {
  devices: DeviceStatus[];
  counters: Counters;
  /** false when /api/status is missing and the registry list stands in (no live state). */
  live: boolean;
  /** When the server built this answer (it may come from its cache). */
  generatedAt: number | null;
  /** Served from a cache older than ~1.5–2.5 s by the server's own clock: a fresh one is on its way. */
  stale: boolean;
}

/**
 * /api/status carries no coordinates, so the map's positions come from the registry
 * (/api/devices, 1,000 a page), read once and then every few minutes.
 */
let coords: { at: number; byId: Map<string, [number | null, number | null]> } | null = null;
const COORDS_TTL_MS = 5 * 60_000;
async function deviceCoords(): Promise<Map<string, [number | null, number | null]>> {
  if (coords && Date.now() - coords.at < COORDS_TTL_MS) return coords.byId;
  const byId = new Map<string, [number | null, number | null]>();
  for (let offset = 0; ; offset += 1000) {
    const body = await json<Answer<'/api/devices/'>>('GET', `/api/devices?limit=1000&offset=${offset}`);
    for (const d of body.items) byId.set(d.id, [d.latitude, d.longitude]);
    if (body.items.length < 1000 || offset + 1000 >= body.total) break;
  }
  coords = { at: Date.now(), byId };
  return byId;
}

export async function fleetStatus(): Promise<FleetStatus> {
  const where = await deviceCoords().catch(() => new Map<string, [number | null, number | null]>());
  try {
    const res = await request('GET', '/api/status');
    const body = (await res.json()) as Answer<'/api/status/'>;
    const devices = body.devices.map((d) => {
      const [lat, lon] = where.get(d.id) ?? [null, null];
      return fromStatus(d, { lat, lon, limits: null });
    });
    const generatedAt = toMs(body.generatedAt);
    // Both times come from the server's clock (Date has 1 s resolution), so no skew.
    const served = toMs(res.headers.get('date'));
    return {
      devices,
      counters: countersOf(devices, body.counters),
      live: true,
      generatedAt,
      stale: generatedAt != null && served != null && served - generatedAt > 1500,
    };
  } catch (err) {
    if (!(err instanceof NotAvailable)) throw err;
    const body = await json<Answer<'/api/devices/'>>('GET', '/api/devices?limit=1000');
    const devices = body.items.map(fromRegistry);
    return { devices, counters: countersOf(devices), live: false, generatedAt: null, stale: false };
  }
}

export const device = (idOrName: string) => json<RegistryDevice>('GET', `/api/devices/${encodeURIComponent(idOrName)}`);

export async function deviceState(idOrName: string): Promise<DeviceStatus> {
  const base = await device(idOrName);
  try {
    const state = await json<DeviceState>('GET', `/api/devices/${encodeURIComponent(idOrName)}/state`);
    return fromState(state);
  } catch (err) {
    if (err instanceof NotAvailable || (err instanceof ApiError && err.status === 404)) return fromRegistry(base);
    throw err;
  }
}

export const patchDevice = (idOrName: string, patch: Record<string, unknown>) =>
  json<Answer<'/api/devices/{idOrName}', 'patch'>>('PATCH', `/api/devices/${encodeURIComponent(idOrName)}`, patch);
export const rotateCredentials = (idOrName: string, body: Record<string, unknown>) =>
  json<Answer<'/api/devices/{idOrName}/credentials', 'post'>>(
    'POST',
    `/api/devices/${encodeURIComponent(idOrName)}/credentials`,
    body,
  );
export const revokeCredentials = (idOrName: string) =>
  json<Answer<'/api/devices/{idOrName}/credentials', 'delete'>>(
    'DELETE',
    `/api/devices/${encodeURIComponent(idOrName)}/credentials`,
  );

export type Query = Record<string, string | number | boolean | null | undefined>;
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
async function page<T extends { items: unknown[]; nextCursor?: string | null }>(
  path: string,
  q: Query,
): Promise<Page<T['items'][number]>> {
  const body = await json<T>('GET', `${path}${qs(q)}`);
  return { items: body.items, nextCursor: body.nextCursor ?? null };
}

export type OutageRow = Item<'/api/outages/'>;
export type AlertRow = Item<'/api/alerts/'>;
export type NotificationRow = Item<'/api/notifications/'>;
export const outages = (q: Query) => page<Answer<'/api/outages/'>>('/api/outages', q);
export const alerts = (q: Query) => page<Answer<'/api/alerts/'>>('/api/alerts', q);
export const notifications = (q: Query) => page<Answer<'/api/notifications/'>>('/api/notifications', q);
export const acknowledgeAlert = (id: string) =>
  json<Answer<'/api/alerts/{id}/ack', 'post'>>('POST', `/api/alerts/${encodeURIComponent(id)}/ack`);

export async function voltage(deviceId: string, q: { from: number; to: number; bucket: string }) {
  const body = await json<Answer<'/api/devices/{idOrName}/voltage'>>(
    'GET',
    `/api/devices/${encodeURIComponent(deviceId)}/voltage${qs({ from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString(), bucket: q.bucket })}`,
  );
  return body.points;
}

/** Online/offline/unknown intervals (GET /api/devices/:id/timeline). */
export async function connectivity(deviceId: string, q: { from: number; to: number }) {
  const body = await json<Answer<'/api/devices/{idOrName}/timeline'>>(
    'GET',
    `/api/devices/${encodeURIComponent(deviceId)}/timeline${qs({ from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString() })}`,
  );
  return body.intervals;
}

export type Reliability = Answer<'/api/reports/reliability'>;
export const reliability = (q: Query) => json<Reliability>('GET', `/api/reports/reliability${qs(q)}`);

/** Fetches a CSV with the bearer token and hands it to the browser as a download. */
export async function downloadCsv(path: string, q: Query, filename: string): Promise<void> {
  const res = await request('GET', `${path}${qs({ ...q, format: 'csv' })}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** SSE URL: EventSource cannot send headers, so the token rides in the query string. */
export const streamUrl = () => `/api/stream${qs({ access_token: session?.token })}`;

export const isAdmin = () => session?.user.role === 'admin';

// Access control and SMS recipients: the rows as the API's schemas declare them.
export interface ScopeLists {
  regions: string[] | null;
  customers: string[] | null;
}
export type UserRow = Answer<'/api/users/'>[number];
export type ApiKeyRow = Answer<'/api/api-keys/'>[number];
export type RecipientRow = Item<'/api/recipients/'>;
export type RecipientKind = RecipientRow['kinds'][number];
const enc = encodeURIComponent;

export const users = () => json<UserRow[]>('GET', '/api/users');
export const createUser = (body: Record<string, unknown>) => json<UserRow>('POST', '/api/users', body);
export const updateUser = (id: string, body: Record<string, unknown>) =>
  json<UserRow>('PATCH', `/api/users/${enc(id)}`, body);
export const resetPassword = (id: string, password: string) =>
  json<UserRow>('POST', `/api/users/${enc(id)}/password`, { password });
export const deleteUser = (id: string) => json<UserRow>('DELETE', `/api/users/${enc(id)}`);

export const apiKeys = () => json<ApiKeyRow[]>('GET', '/api/api-keys');
export const createApiKey = (body: Record<string, unknown>) =>
  json<Answer<'/api/api-keys/', 'post', 201>>('POST', '/api/api-keys', body);
export const revokeApiKey = (id: string) => json<ApiKeyRow>('DELETE', `/api/api-keys/${enc(id)}`);

export const recipients = async () => (await json<Answer<'/api/recipients/'>>('GET', '/api/recipients')).items;
export const createRecipient = (body: Record<string, unknown>) => json<RecipientRow>('POST', '/api/recipients', body);
export const updateRecipient = (id: string, body: Record<string, unknown>) =>
  json<RecipientRow>('PATCH', `/api/recipients/${enc(id)}`, body);
export const deleteRecipient = (id: string) => json<RecipientRow>('DELETE', `/api/recipients/${enc(id)}`);

export type DeadLetterRow = Item<'/api/dead-letters/'>;
export const deadLetters = (q: Query) => json<Answer<'/api/dead-letters/'>>('GET', `/api/dead-letters${qs(q)}`);
export const replayDeadLetter = (id: string) => json<DeadLetterRow>('POST', `/api/dead-letters/${enc(id)}/replay`);
export const discardDeadLetter = (id: string) => json<DeadLetterRow>('POST', `/api/dead-letters/${enc(id)}/discard`);
