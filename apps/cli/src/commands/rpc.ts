/**
 * spms rpc send|list|show|cancel — server-side RPC to devices (docs/rpc.md).
 * `send` without --persistent waits for the device's answer (or its timeout) as the API does;
 * with --persistent the RPC is stored and delivered when the device next connects, and the
 * command prints its rpcId at once (follow it with `spms rpc show <rpcId>`).
 */
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { num, type Options, onePositional, parseFlags, str } from '../flags.js';
import { formatFields, formatTable, printJson } from '../output.js';

interface RpcOut {
  id: string;
  deviceName: string;
  requestId: number;
  method: string;
  params: unknown;
  oneway: boolean;
  status: string;
  response: unknown;
  error: string | null;
  retries: number;
  attempts: number;
  timeoutMs: number;
  expirationTime: number;
  createdAt: string;
  completedAt: string | null;
}

const OPTIONS: Record<string, Options> = {
  send: {
    persistent: { type: 'boolean' },
    oneway: { type: 'boolean' },
    expiration: { type: 'string' },
    retries: { type: 'string' },
    timeout: { type: 'string' },
    info: { type: 'string' },
  },
  list: { status: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' } },
};

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--expiration`: a duration from now (90s, 30m, 12h, 7d), an ISO time, or epoch ms. */
export function parseExpiration(v: string, now = Date.now()): number {
  const d = /^(\d+)([smhd])$/.exec(v);
  if (d) return now + Number(d[1]) * (UNITS[d[2] as string] as number);
  if (/^\d{12,}$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw usageError(`--expiration must be a duration (30m, 12h, 7d), an ISO time or epoch ms, got "${v}"`);
  return t;
}

function json(v: string, what: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    throw usageError(`${what} must be JSON, got ${v}`);
  }
}

const show = (r: RpcOut) =>
  formatFields(
    Object.entries(r).map(([k, v]): [string, unknown] => [
      k,
      k === 'expirationTime'
        ? new Date(v as number).toISOString()
        : typeof v === 'object' && v !== null
          ? JSON.stringify(v)
          : v,
    ]),
  );

export async function rpcCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { client, io } = ctx;
  const { values, positionals } = parseFlags(args, OPTIONS[sub ?? ''] ?? {});
  switch (sub) {
    case 'send': {
      const [device, method, params, ...extra] = positionals;
      if (!device || !method || extra.length > 0)
        throw usageError('usage: spms rpc send <device> <method> [params-json]');
      const persistent = values.persistent === true;
      if (!persistent && (values.expiration !== undefined || values.retries !== undefined || values.info !== undefined))
        throw usageError('--expiration, --retries and --info need --persistent');
      const body: Record<string, unknown> = { method };
      if (params !== undefined) body.params = json(params, 'params');
      if (persistent) body.persistent = true;
      if (values.oneway === true) body.oneway = true;
      const timeout = num(values, 'timeout', true);
      if (timeout !== undefined) body.timeoutMs = timeout;
      const retries = num(values, 'retries', true);
      if (retries !== undefined) body.retries = retries;
      const expiration = str(values, 'expiration');
      if (expiration !== undefined) body.expirationTime = parseExpiration(expiration);
      const info = str(values, 'info');
      if (info !== undefined) body.additionalInfo = json(info, '--info');
      const res = await client.request<{ requestId: number; response?: unknown; rpcId?: string; status?: string }>(
        'POST',
        `api/devices/${encodeURIComponent(device)}/rpc`,
        { json: body },
      );
      if (ctx.json) return printJson(io, res);
      if (res.rpcId) return io.out(`queued RPC ${res.rpcId} (request ${res.requestId}): spms rpc show ${res.rpcId}`);
      if (!('response' in res)) return io.out(`sent RPC ${res.requestId} (oneway)`);
      return io.out(JSON.stringify(res.response));
    }
    case 'list':
    case 'history': {
      const device = onePositional(positionals, 'device id or name');
      const page = await client.request<{ items: RpcOut[]; nextCursor: string | null }>(
        'GET',
        `api/devices/${encodeURIComponent(device)}/rpc`,
        {
          query: {
            status: str(values, 'status')?.toUpperCase(),
            limit: str(values, 'limit'),
            cursor: str(values, 'cursor'),
          },
        },
      );
      if (ctx.json) return printJson(io, page);
      io.out(
        formatTable(page.items, [
          ['RPC ID', (r) => r.id],
          ['REQUEST', (r) => r.requestId],
          ['METHOD', (r) => r.method],
          ['STATUS', (r) => r.status],
          ['ATTEMPTS', (r) => `${r.attempts}/${r.retries + 1}`],
          ['CREATED', (r) => r.createdAt],
        ]),
      );
      if (page.nextCursor) io.out(`(more: --cursor ${page.nextCursor})`);
      return;
    }
    case 'show':
    case 'get': {
      const r = await client.request<RpcOut>(
        'GET',
        `api/rpc/${encodeURIComponent(onePositional(positionals, 'rpc id'))}`,
      );
      return ctx.json ? printJson(io, r) : io.out(show(r));
    }
    case 'cancel':
    case 'delete': {
      const r = await client.request<RpcOut>(
        'DELETE',
        `api/rpc/${encodeURIComponent(onePositional(positionals, 'rpc id'))}`,
      );
      return ctx.json ? printJson(io, r) : io.out(`cancelled RPC ${r.id} (${r.method} to ${r.deviceName})`);
    }
    default:
      throw usageError('rpc commands: send, list, show, cancel (spms --help)');
  }
}
