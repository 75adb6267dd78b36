/** spms api-keys create|list|revoke (needs an admin key) */
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { onePositional, parseFlags, str } from '../flags.js';
import { formatTable, printJson } from '../output.js';

interface ApiKeyOut {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

export async function apiKeysCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  const { client, io } = ctx;
  const { values, positionals } = parseFlags(args, sub === 'create' ? { role: { type: 'string' } } : {});
  switch (sub) {
    case 'create': {
      const role = str(values, 'role');
      const body = { name: onePositional(positionals, 'key name'), ...(role ? { role } : {}) };
      const k = await client.request<ApiKeyOut>('POST', 'api/api-keys', { json: body });
      if (ctx.json) return printJson(io, k);
      io.out(`created API key ${k.name} (${k.role}), id ${k.id}`);
      io.out(`key (shown only now): ${k.key}`);
      return;
    }
    case 'list': {
      const keys = await client.request<ApiKeyOut[]>('GET', 'api/api-keys');
      if (ctx.json) return printJson(io, keys);
      return io.out(
        formatTable(keys, [
          ['ID', (k) => k.id],
          ['NAME', (k) => k.name],
          ['ROLE', (k) => k.role],
          ['CREATED', (k) => k.createdAt],
          ['LAST_USED', (k) => k.lastUsedAt],
          ['REVOKED', (k) => k.revokedAt],
        ]),
      );
    }
    case 'revoke': {
      const id = onePositional(positionals, 'API key id');
      const k = await client.request<ApiKeyOut>('DELETE', `api/api-keys/${encodeURIComponent(id)}`);
      return ctx.json ? printJson(io, k) : io.out(`revoked API key ${k.name} (${k.id})`);
    }
    default:
      throw usageError('usage: spms api-keys create|list|revoke (see spms --help)');
  }
}
