/**
 * Secret hashing. Two formats, chosen by where the secret came from:
 * - `sha256$<hex>` for secrets SPMS generated (≥ 144 random bits): brute force is
 *   hopeless at that entropy, and a reconnect storm of thousands of devices must not cost
 *   seconds of CPU each;
 * - `scrypt$N$r$p$salt$hash` for secrets an operator supplied (firmware-compiled
 *   passwords may be weak), so a leaked table does not reveal them cheaply.
 */
import { createHash, randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import type { CredentialsInput } from './matching.js';

const SCRYPT = { N: 4096, r: 8, p: 1, keylen: 32 };

function scryptAsync(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashSecret(secret: string, origin: 'generated' | 'supplied'): Promise<string> {
  if (origin === 'generated') return `sha256$${createHash('sha256').update(secret).digest('hex')}`;
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'sha256' && parts.length === 2) {
    const want = Buffer.from(parts[1] ?? '', 'hex');
    const got = createHash('sha256').update(secret).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  if (parts[0] === 'scrypt' && parts.length === 6) {
    const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
    const want = Buffer.from(hash, 'base64');
    const got = await scryptAsync(secret, Buffer.from(salt, 'base64'), want.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
    return want.length === got.length && timingSafeEqual(want, got);
  }
  return false;
}

/** A URL- and firmware-safe random secret (base64url, 24 chars = 144 bits). */
export function generateSecret(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

/** Strong credentials of the requested type, for devices that have none yet. */
export function generateCredentials(type: 'ACCESS_TOKEN' | 'MQTT_BASIC', name: string): CredentialsInput {
  if (type === 'ACCESS_TOKEN') return { type, token: generateSecret() };
  return { type, clientId: `${name}-${generateSecret(6)}`, username: generateSecret(9), password: generateSecret() };
}
