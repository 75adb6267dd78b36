/**
 * Test support for access-control tests (no test-only dependencies, so it type-checks with
 * the app): create users through the API and sign them in.
 */
import type { FastifyInstance } from 'fastify';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const adminAuth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Environment for a test app: cheap scrypt (2^10), so sign-ins take milliseconds. */
export function testEnv(
  db: { url: string },
  redis: { url: string; prefix: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    LOG_LEVEL: 'silent',
    SPMS_ADMIN_API_KEY: TEST_ADMIN_KEY,
    PASSWORD_SCRYPT_LOG_N: '10',
    PASSWORD_SCRYPT_P: '1',
    ...extra,
  };
}

export interface UserSpec {
  username: string;
  role: 'admin' | 'operator' | 'viewer';
  regions?: string[] | null;
  customers?: string[] | null;
  password?: string;
}

export async function createUser(app: FastifyInstance, spec: UserSpec): Promise<{ id: string; password: string }> {
  const password = spec.password ?? 'correct-horse-battery-staple-9';
  const res = await app.inject({
    method: 'POST',
    url: '/api/users',
    headers: adminAuth,
    payload: { ...spec, password },
  });
  if (res.statusCode !== 201) throw new Error(`create user ${spec.username}: ${res.statusCode} ${res.body}`);
  return { id: res.json().id, password };
}

export async function signIn(app: FastifyInstance, username: string, password: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password } });
  if (res.statusCode !== 200) throw new Error(`sign in ${username}: ${res.statusCode} ${res.body}`);
  return res.json().token;
}

export async function createKey(
  app: FastifyInstance,
  body: { name: string; role?: string; userId?: string | null; regions?: string[] | null; customers?: string[] | null },
): Promise<{ id: string; key: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/api-keys', headers: adminAuth, payload: body });
  if (res.statusCode !== 201) throw new Error(`create key ${body.name}: ${res.statusCode} ${res.body}`);
  return { id: res.json().id, key: res.json().key };
}
