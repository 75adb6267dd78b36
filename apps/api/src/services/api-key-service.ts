/** Operator API keys: shown once at creation, stored as sha256 (plugins/auth.ts checks them). */
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyModel as ApiKey, PrismaClient } from '@spms/db';
import { AppError } from '../plugins/errors.js';

export type ApiKeyRole = 'admin' | 'operator' | 'viewer';

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function toApiKeyView(k: ApiKey) {
  return {
    id: k.id,
    name: k.name,
    role: k.role as ApiKeyRole,
    createdAt: k.createdAt.toISOString(),
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
    revokedAt: k.revokedAt?.toISOString() ?? null,
  };
}
export type ApiKeyView = ReturnType<typeof toApiKeyView>;

export class ApiKeyService {
  constructor(private readonly prisma: PrismaClient) {}

  async create(input: { name: string; role?: ApiKeyRole }): Promise<ApiKeyView & { key: string }> {
    // 192 random bits; the prefix makes leaked keys easy to spot (secret scanners, logs).
    const key = `spms_${randomBytes(24).toString('base64url')}`;
    const row = await this.prisma.apiKey.create({
      data: { name: input.name, role: input.role ?? 'admin', keyHash: hashApiKey(key) },
    });
    return { ...toApiKeyView(row), key };
  }

  async list(): Promise<ApiKeyView[]> {
    const rows = await this.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' } });
    return rows.map(toApiKeyView);
  }

  async revoke(id: string): Promise<ApiKeyView> {
    const found = /^[0-9a-f-]{36}$/i.test(id) ? await this.prisma.apiKey.findUnique({ where: { id } }) : null;
    if (!found) throw new AppError('NOT_FOUND', `no API key with id "${id}"`);
    if (found.revokedAt) return toApiKeyView(found);
    return toApiKeyView(await this.prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } }));
  }
}
