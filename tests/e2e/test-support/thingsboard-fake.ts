/**
 * A local stand-in for ThingsBoard's REST API (tenant administrator), as the importer reads
 * it: sign-in and refresh (JWTs that expire after a few requests), device pages (a small
 * server-side page size), credentials (access token; MQTT Basic as a JSON string; one
 * device whose credentials are missing), attributes, series keys, and series values as
 * strings with a small cap on `limit`, answering one 429 first; and a device by name (the
 * cut-over bridge's look-up). Test-only.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeDevice {
  id: string;
  name: string;
  type: string;
  customerTitle: string | null;
  createdTime: number;
  credentials: { credentialsType: string; credentialsId: string | null; credentialsValue: string | null } | null;
  attributes: Record<'SERVER_SCOPE' | 'SHARED_SCOPE' | 'CLIENT_SCOPE', Record<string, unknown>>;
  /** key → readings, oldest first; values as ThingsBoard returns them (strings). */
  series: Record<string, { ts: number; value: string }[]>;
}

export interface FakeThingsBoardOptions {
  username: string;
  password: string;
  devices: FakeDevice[];
  /** Requests a JWT is good for before it answers 401 "Token has expired". */
  tokenUses?: number;
  /** Largest device page and series `limit` the server honours. */
  maxPageSize?: number;
  maxLimit?: number;
}

export interface FakeThingsBoard {
  url: string;
  /** Counters, for assertions. */
  stats: { logins: number; refreshes: number; expired: number; throttled: number; seriesCalls: number };
  /** After this many more series calls, drop every connection (ThingsBoard unreachable); null: never. */
  breakAfterSeriesCalls: number | null;
  /** The next device page or series page is malformed (once). */
  malformedOnce: 'devices' | 'series' | null;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export async function startFakeThingsBoard(opts: FakeThingsBoardOptions): Promise<FakeThingsBoard> {
  const tokenUses = opts.tokenUses ?? 25;
  const maxPageSize = opts.maxPageSize ?? 2;
  const maxLimit = opts.maxLimit ?? 200;
  const tokens = new Map<string, number>(); // token → uses left
  const refreshTokens = new Set<string>();
  let throttledOnce = false;
  const fake: FakeThingsBoard = {
    url: '',
    stats: { logins: 0, refreshes: 0, expired: 0, throttled: 0, seriesCalls: 0 },
    breakAfterSeriesCalls: null,
    malformedOnce: null,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const issue = () => {
    const token = randomBytes(12).toString('hex');
    const refreshToken = randomBytes(12).toString('hex');
    tokens.set(token, tokenUses);
    refreshTokens.add(refreshToken);
    return { token, refreshToken };
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://tb');
    const path = url.pathname;
    if (req.method === 'POST' && path === '/api/auth/login') {
      const body = await readJson(req);
      if (body.username !== opts.username || body.password !== opts.password)
        return json(res, 401, { status: 401, message: 'Invalid username or password', errorCode: 10 });
      fake.stats.logins++;
      return json(res, 200, issue());
    }
    if (req.method === 'POST' && path === '/api/auth/token') {
      const body = await readJson(req);
      if (typeof body.refreshToken !== 'string' || !refreshTokens.delete(body.refreshToken))
        return json(res, 401, { status: 401, message: 'Invalid refresh token', errorCode: 11 });
      fake.stats.refreshes++;
      return json(res, 200, issue());
    }
    const auth = /^Bearer (.+)$/.exec(String(req.headers['x-authorization'] ?? ''))?.[1];
    const left = auth ? tokens.get(auth) : undefined;
    if (left === undefined) return json(res, 401, { status: 401, message: 'Authentication failed', errorCode: 10 });
    if (left <= 0) {
      fake.stats.expired++;
      return json(res, 401, { status: 401, message: 'Token has expired', errorCode: 11 });
    }
    tokens.set(auth as string, left - 1);

    if (req.method === 'GET' && path === '/api/tenant/deviceInfos') {
      if (fake.malformedOnce === 'devices') {
        fake.malformedOnce = null;
        return json(res, 200, { data: 'not a list', totalPages: 1, hasNext: false });
      }
      const size = Math.min(Number(url.searchParams.get('pageSize')), maxPageSize);
      const page = Number(url.searchParams.get('page'));
      const all = [...opts.devices].sort((a, b) => a.name.localeCompare(b.name));
      const data = all.slice(page * size, (page + 1) * size).map((d) => ({
        id: { entityType: 'DEVICE', id: d.id },
        createdTime: d.createdTime,
        name: d.name,
        type: d.type,
        label: null,
        customerTitle: d.customerTitle,
        active: false,
      }));
      const totalPages = Math.ceil(all.length / size);
      return json(res, 200, { data, totalPages, totalElements: all.length, hasNext: page + 1 < totalPages });
    }
    if (req.method === 'GET' && path === '/api/tenant/devices' && url.searchParams.has('deviceName')) {
      const d = opts.devices.find((x) => x.name === url.searchParams.get('deviceName'));
      if (!d) return json(res, 404, { status: 404, message: "Requested item wasn't found!", errorCode: 32 });
      return json(res, 200, { id: { entityType: 'DEVICE', id: d.id }, name: d.name, type: d.type });
    }
    const m = /^\/api\/(?:device\/([^/]+)\/credentials|plugins\/telemetry\/DEVICE\/([^/]+)\/(.+))$/.exec(path);
    const device = opts.devices.find((d) => d.id === (m?.[1] ?? m?.[2]));
    if (!m || !device) return json(res, 404, { status: 404, message: "Requested item wasn't found!", errorCode: 32 });
    if (m[1]) {
      if (!device.credentials)
        return json(res, 404, { status: 404, message: "Requested item wasn't found!", errorCode: 32 });
      return json(res, 200, { id: { id: `${device.id}-c` }, deviceId: { id: device.id }, ...device.credentials });
    }
    const rest = m[3] as string;
    const scope = /^values\/attributes\/(SERVER_SCOPE|SHARED_SCOPE|CLIENT_SCOPE)$/.exec(rest)?.[1];
    if (scope) {
      const attrs = device.attributes[scope as keyof FakeDevice['attributes']];
      return json(
        res,
        200,
        Object.entries(attrs).map(([key, value]) => ({ key, value, lastUpdateTs: device.createdTime })),
      );
    }
    if (rest === 'keys/timeseries') return json(res, 200, Object.keys(device.series));
    if (rest === 'values/timeseries') {
      fake.stats.seriesCalls++;
      if (fake.breakAfterSeriesCalls !== null && fake.breakAfterSeriesCalls-- <= 0) {
        req.socket.destroy();
        return;
      }
      if (!throttledOnce) {
        throttledOnce = true;
        fake.stats.throttled++;
        res.writeHead(429, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({ status: 429, message: 'Too many requests for current tenant!', errorCode: 33 }),
        );
      }
      const keys = (url.searchParams.get('keys') ?? '').split(',');
      if (fake.malformedOnce === 'series') {
        fake.malformedOnce = null;
        return json(res, 200, { [keys[0] as string]: [{ ts: 'yesterday', value: 'true' }] });
      }
      const start = Number(url.searchParams.get('startTs'));
      const end = Number(url.searchParams.get('endTs'));
      // ThingsBoard's default limit is 100; this server also caps what a client asks for.
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 100), maxLimit);
      const out: Record<string, { ts: number; value: string }[]> = {};
      for (const k of keys) {
        const rows = (device.series[k] ?? []).filter((r) => r.ts >= start && r.ts < end).slice(0, limit);
        if (rows.length > 0) out[k] = rows;
      }
      return json(res, 200, out);
    }
    return json(res, 404, { status: 404, message: 'Not found', errorCode: 32 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
