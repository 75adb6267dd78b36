/**
 * Secret hashing. Two formats, chosen by where the secret came from:
 * - `sha256$<hex>` for secrets SPMS generated (≥ 144 random bits): brute force is
 *   hopeless at that entropy, and a reconnect storm of thousands of devices must not cost
 *   seconds of CPU each;
 * - `scrypt$N$r$p$salt$hash` for secrets an operator supplied (firmware-compiled
 *   passwords may be weak), so a leaked table does not reveal them cheaply (the format is
 *   scrypt.ts's 'device-secret' flavour).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CredentialsInput } from './matching.js';
import { hashScrypt, type ScryptParams, verifyScrypt } from './scrypt.js';

// N = 4096: a device reconnect checks the secret, so this stays far cheaper than passwords.
const SCRYPT: ScryptParams = { logN: 12, r: 8, p: 1 };

export async function hashSecret(secret: string, origin: 'generated' | 'supplied'): Promise<string> {
  if (origin === 'generated') return `sha256$${createHash('sha256').update(secret).digest('hex')}`;
  return hashScrypt(secret, SCRYPT, 'device-secret');
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'sha256' && parts.length === 2) {
    const want = Buffer.from(parts[1] ?? '', 'hex');
    const got = createHash('sha256').update(secret).digest();
    return want.length === got.length && timingSafeEqual(want, got);
  }
  if (parts[0] === 'scrypt') return verifyScrypt(secret, stored, 'device-secret');
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
