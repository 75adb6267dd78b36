/**
 * User passwords, hashed with scrypt (node:crypto, no native add-on). Defaults follow
 * OWASP's Password Storage Cheat Sheet: N=2^15, r=8, p=3 (32 MiB), one of its listed
 * equivalents of N=2^17/p=1 that needs a quarter of the memory per concurrent sign-in.
 * The parameters are stored in every hash, so raising them later keeps old hashes valid
 * (they are re-hashed at the next successful sign-in).
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { logN: 15, r: 8, p: 3 };
const KEY_LEN = 32;

function derive(password: string, salt: Buffer, { logN, r, p }: ScryptParams): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    // maxmem: scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is just too small.
    scrypt(password.normalize('NFKC'), salt, KEY_LEN, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$<logN>$<r>$<p>$<salt>$<hash>` (base64url). */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ['scrypt', params.logN, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

function parseHash(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [logN, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 22) return null;
  return {
    params: { logN, r, p },
    salt: Buffer.from(parts[4] as string, 'base64url'),
    key: Buffer.from(parts[5] as string, 'base64url'),
  };
}

/** Constant-time comparison; a malformed stored hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
}

/** True when the hash was made with other parameters than the current ones. */
export function needsRehash(stored: string, params: ScryptParams): boolean {
  const parsed = parseHash(stored);
  return !parsed || parsed.params.logN !== params.logN || parsed.params.r !== params.r || parsed.params.p !== params.p;
}

let dummy: Promise<string> | undefined;
/**
 * Spends the same work as a real check, so an unknown username takes as long to refuse as
 * a wrong password (no user enumeration by timing).
 */
export async function burnPasswordCheck(password: string, params: ScryptParams): Promise<void> {
  dummy ??= hashPassword('not-a-real-password', params);
  await verifyPassword(password, await dummy);
}

/** What a new password must satisfy (NIST SP 800-63B: length, not composition rules). */
export function checkPasswordStrength(password: string, username?: string): string | null {
  if (password.length < 10) return 'password: at least 10 characters';
  if (password.length > 256) return 'password: at most 256 characters';
  if (username && password.toLowerCase().includes(username.toLowerCase()))
    return 'password: must not contain the username';
  return null;
}
