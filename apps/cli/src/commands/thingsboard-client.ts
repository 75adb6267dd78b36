/**
 * The parts of ThingsBoard's REST API an import reads (docs: ThingsBoard REST API, tenant
 * administrator): sign-in and token refresh, device pages, credentials, attributes and time
 * series. Every call names its step in errors; a 401 during a long import refreshes the JWT
 * (or signs in again) once, a 429 or a dropped connection backs off and retries.
 */
import { CliError, EXIT } from '../errors.js';

export interface TbAuth {
  username?: string;
  password?: string;
  /** A JWT from the caller (--token): used as is; no refresh without username/password. */
  token?: string;
}

export interface TbDevice {
  id: { id: string };
  name: string;
  label?: string | null;
  type?: string | null;
  customerTitle?: string | null;
  createdTime?: number;
}

export interface TbCredentials {
  credentialsType: string;
  credentialsId: string | null;
  credentialsValue: string | null;
}

export interface TbAttribute {
  key: string;
  value: unknown;
  lastUpdateTs?: number;
}

export type TbSeries = Record<string, { ts: number; value: unknown }[]>;

export interface TbClientOptions {
  url: string;
  auth: TbAuth;
  /** First back-off after a 429 or a network error, ms (doubles each retry). */
  backoffMs?: number;
  retries?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ThingsBoardClient {
  private token: string | undefined;
  private refreshToken: string | undefined;
  readonly base: string;
  private readonly backoffMs: number;
  private readonly retries: number;
  /** Requests made, for the progress lines. */
  requests = 0;

  constructor(private readonly opts: TbClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.token = opts.auth.token;
    this.backoffMs = opts.backoffMs ?? 1000;
    this.retries = opts.retries ?? 6;
  }

  /** Signs in with username/password (POST /api/auth/login), unless a token was given. */
  async signIn(): Promise<void> {
    if (this.token && !this.opts.auth.username) return;
    const { username, password } = this.opts.auth;
    if (!username || !password) throw new CliError('give --username and --password, or --token', EXIT.USAGE);
    const res = await this.send('signing in', 'POST', '/api/auth/login', { username, password }, false);
    if (res.status === 401)
      throw new CliError(`ThingsBoard refused the sign-in as ${username} (HTTP 401): check --username and --password`);
    const body = await this.body<{ token: string; refreshToken: string }>('signing in', res);
    this.token = body.token;
    this.refreshToken = body.refreshToken;
  }

  /** GET a JSON resource; `step` names what the import was doing, for errors. */
  async get<T>(step: string, path: string): Promise<T> {
    let res = await this.send(step, 'GET', path);
    if (res.status === 401) {
      await this.renew(step);
      res = await this.send(step, 'GET', path);
    }
    return this.body<T>(step, res);
  }

  /** GET that answers null for 403/404 (a resource ThingsBoard will not reveal to this user). */
  async getOptional<T>(step: string, path: string): Promise<T | null> {
    let res = await this.send(step, 'GET', path);
    if (res.status === 401) {
      await this.renew(step);
      res = await this.send(step, 'GET', path);
    }
    if (res.status === 403 || res.status === 404) {
      await res.text();
      return null;
    }
    return this.body<T>(step, res);
  }

  /** Every device of the tenant, page by page. */
  async *devices(pageSize = 100, onTotal?: (total: number) => void): AsyncGenerator<TbDevice[]> {
    for (let page = 0; ; page++) {
      const p = await this.get<{ data: TbDevice[]; hasNext: boolean; totalElements?: number }>(
        'listing devices',
        `/api/tenant/deviceInfos?pageSize=${pageSize}&page=${page}&sortProperty=name&sortOrder=ASC`,
      );
      const bad = malformedDevicePage(p);
      if (bad)
        throw new CliError(
          `ThingsBoard's answer while listing devices (page ${page}) is malformed: ${bad}; nothing of it was imported, re-run: the import resumes`,
        );
      if (page === 0 && typeof p.totalElements === 'number') onTotal?.(p.totalElements);
      yield p.data;
      if (!p.hasNext) return;
    }
  }

  /**
   * One key's readings in [from, to], oldest first, paging by time: ThingsBoard answers at
   * most `limit` readings per call (and a small default), so paging goes on until a page
   * brings nothing new. The query reaches 1 ms past both ends and filters, so it
   * does not matter whether ThingsBoard treats startTs/endTs as inclusive.
   */
  async series(deviceId: string, key: string, from: number, to: number, limit = 1000, label = deviceId) {
    const out: { ts: number; value: unknown }[] = [];
    let cursor = from - 1;
    let last = from - 1;
    for (;;) {
      const q = new URLSearchParams({
        keys: key,
        startTs: String(cursor),
        endTs: String(to + 1),
        limit: String(limit),
        orderBy: 'ASC',
        agg: 'NONE',
      });
      const page = await this.get<TbSeries>(
        `reading series ${key} of ${label}`,
        `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?${q}`,
      );
      const bad = malformedSeriesPage(page, key);
      if (bad)
        throw new CliError(
          `ThingsBoard's answer while reading series ${key} of ${label} is malformed: ${bad}; what came before is kept, re-run: the import resumes`,
        );
      const rows = page[key] ?? [];
      const fresh = rows.filter((r) => r.ts > last && r.ts >= from && r.ts <= to);
      out.push(...fresh);
      if (fresh.length > 0) last = (fresh[fresh.length - 1] as { ts: number }).ts;
      // A server may cap `limit` below what was asked: only a page with nothing new ends the key.
      if (fresh.length === 0) return out;
      cursor = last;
    }
  }

  private async renew(step: string): Promise<void> {
    if (this.refreshToken) {
      const res = await this.send(step, 'POST', '/api/auth/token', { refreshToken: this.refreshToken }, false);
      if (res.ok) {
        const body = (await res.json()) as { token: string; refreshToken: string };
        this.token = body.token;
        this.refreshToken = body.refreshToken;
        return;
      }
      await res.text();
    }
    if (this.opts.auth.username && this.opts.auth.password) {
      this.token = undefined;
      return this.signIn();
    }
    throw new CliError(
      `ThingsBoard refused the token while ${step} (HTTP 401): it expired; sign in with --username/--password`,
    );
  }

  private async send(step: string, method: string, path: string, json?: unknown, auth = true): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth && this.token) headers['x-authorization'] = `Bearer ${this.token}`;
    if (json !== undefined) headers['content-type'] = 'application/json';
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        this.requests++;
        res = await fetch(`${this.base}${path}`, {
          method,
          headers,
          ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
          signal: AbortSignal.timeout(60_000),
        });
      } catch (err) {
        if (attempt < this.retries) {
          await sleep(this.backoffMs * 2 ** attempt);
          continue;
        }
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new CliError(
          `cannot reach ThingsBoard at ${this.base} while ${step} (${cause?.code ?? cause?.message ?? String(err)}); check --url, then re-run: the import resumes`,
          EXIT.UNREACHABLE,
        );
      }
      if (res.status !== 429 && res.status < 502) return res;
      await res.text();
      if (attempt >= this.retries)
        throw new CliError(
          `ThingsBoard answered HTTP ${res.status} while ${step} after ${attempt + 1} tries; re-run later: the import resumes`,
        );
      const after = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(after) && after > 0 ? after * 1000 : this.backoffMs * 2 ** attempt);
    }
  }

  private async body<T>(step: string, res: Response): Promise<T> {
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the text
      }
      throw new CliError(`ThingsBoard answered HTTP ${res.status} while ${step}: ${message}`);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`ThingsBoard's answer while ${step} is not JSON: is --url a ThingsBoard server?`);
    }
  }
}

/** What is wrong with a device page (null: usable), so the error can name it. */
function malformedDevicePage(p: unknown): string | null {
  const page = p as { data?: unknown; hasNext?: unknown } | null;
  if (!page || typeof page !== 'object') return 'not an object';
  if (!Array.isArray(page.data)) return '"data" is not a list';
  if (typeof page.hasNext !== 'boolean') return '"hasNext" is missing';
  const i = page.data.findIndex((d: { id?: { id?: unknown }; name?: unknown } | null) => {
    return !d || typeof d.id?.id !== 'string' || typeof d.name !== 'string' || d.name === '';
  });
  return i < 0 ? null : `device ${i} has no id or no name`;
}

/** What is wrong with a time-series page (null: usable). */
function malformedSeriesPage(p: unknown, key: string): string | null {
  if (!p || typeof p !== 'object' || Array.isArray(p)) return 'not an object';
  const rows = (p as Record<string, unknown>)[key];
  if (rows === undefined) return null;
  if (!Array.isArray(rows)) return `"${key}" is not a list`;
  const i = rows.findIndex(
    (r: { ts?: unknown } | null) => !r || typeof r.ts !== 'number' || !Number.isInteger(r.ts) || !('value' in r),
  );
  return i < 0 ? null : `reading ${i} has no integer "ts" or no "value"`;
}
