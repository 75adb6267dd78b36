/**
 * User passwords, hashed with scrypt (node:crypto, no native add-on). Defaults follow
 * OWASP's Password Storage Cheat Sheet: N=2^15, r=8, p=3 (32 MiB), one of its listed
 * equivalents of N=2^17/p=1 that needs a quarter of the memory per concurrent sign-in.
 * The parameters are stored in every hash, so raising them later keeps old hashes valid
 * (they are re-hashed at the next successful sign-in).
 */
import { hashScrypt, parseScrypt, type ScryptParams, verifyScrypt } from '@spms/credentials';

export type { ScryptParams };

export const DEFAULT_SCRYPT: ScryptParams = { logN: 15, r: 8, p: 3 };

/** `scrypt$<logN>$<r>$<p>$<salt>$<hash>` (base64url; the 'password' flavour of @spms/credentials' scrypt). */
export function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  return hashScrypt(password, params, 'password');
}

/** Constant-time comparison; a malformed stored hash never matches. */
export function verifyPassword(password: string, stored: string): Promise<boolean> {
  return verifyScrypt(password, stored, 'password');
}

/** True when the hash was made with other parameters than the current ones. */
export function needsRehash(stored: string, params: ScryptParams): boolean {
  const parsed = parseScrypt(stored, 'password');
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
