/**
 * The one scrypt hash format module. Two stored formats grew up separately and share the
 * prefix `scrypt$` with different meanings in the cost field and the encoding:
 * - device secrets (`device_credentials`): `scrypt$<N>$<r>$<p>$<salt>$<hash>`, N itself
 *   (e.g. 4096), salt and hash in base64;
 * - user passwords (`users.password_hash`): `scrypt$<logN>$<r>$<p>$<salt>$<hash>`, log2 of N
 *   (e.g. 15), base64url, the password NFKC-normalised before hashing.
 * The column a hash comes from decides its flavour, so both are read by one parser that
 * takes the flavour as a parameter; every hash stored so far keeps verifying unchanged.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export type ScryptFlavour = 'device-secret' | 'password';

/** Cost parameters; N = 2^logN. */
export interface ScryptParams {
  logN: number;
  r: number;
  p: number;
}

export interface ParsedScrypt {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

const FORMAT = {
  // Device secrets compare however long a key was stored; passwords only 32-byte keys.
  'device-secret': { costIsLog: false, encoding: 'base64', normalize: false, keyLen: null },
  password: { costIsLog: true, encoding: 'base64url', normalize: true, keyLen: 32 },
} as const satisfies Record<
  ScryptFlavour,
  { costIsLog: boolean; encoding: BufferEncoding; normalize: boolean; keyLen: number | null }
>;

// 2^22 · 128 · r bytes is already 512 MiB at r = 1: a stored hash asking for more is refused
// rather than allowed to exhaust memory.
const MAX_LOG_N = 22;
const KEY_LEN = 32;
const NODE_MAXMEM = 32 * 1024 * 1024;

export function deriveScrypt(
  secret: string,
  salt: Buffer,
  { logN, r, p }: ScryptParams,
  flavour: ScryptFlavour,
  keylen = KEY_LEN,
): Promise<Buffer> {
  const N = 2 ** logN;
  const input = FORMAT[flavour].normalize ? secret.normalize('NFKC') : secret;
  return new Promise((resolve, reject) =>
    // maxmem: scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is too small for passwords.
    scrypt(input, salt, keylen, { N, r, p, maxmem: Math.max(NODE_MAXMEM, 256 * N * r) }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** A new hash in the flavour's stored format. */
export async function hashScrypt(secret: string, params: ScryptParams, flavour: ScryptFlavour): Promise<string> {
  const f = FORMAT[flavour];
  const salt = randomBytes(16);
  const key = await deriveScrypt(secret, salt, params, flavour);
  const cost = f.costIsLog ? params.logN : 2 ** params.logN;
  return ['scrypt', cost, params.r, params.p, salt.toString(f.encoding), key.toString(f.encoding)].join('$');
}

/** The parts of a stored hash of this flavour; null when it is not one (or asks too much). */
export function parseScrypt(stored: string, flavour: ScryptFlavour): ParsedScrypt | null {
  const f = FORMAT[flavour];
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [cost, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![cost, r, p].every((n) => Number.isInteger(n) && n > 0)) return null;
  const logN = f.costIsLog ? cost : Math.log2(cost);
  if (!Number.isInteger(logN) || logN < 1 || logN > MAX_LOG_N) return null;
  const key = Buffer.from(parts[5] as string, f.encoding);
  if (key.length === 0 || (f.keyLen !== null && key.length !== f.keyLen)) return null;
  return { params: { logN, r, p }, salt: Buffer.from(parts[4] as string, f.encoding), key };
}

/** Constant-time comparison; a malformed stored hash never matches. */
export async function verifyScrypt(secret: string, stored: string, flavour: ScryptFlavour): Promise<boolean> {
  const parsed = parseScrypt(stored, flavour);
  if (!parsed) return false;
  const got = await deriveScrypt(secret, parsed.salt, parsed.params, flavour, parsed.key.length);
  return got.length === parsed.key.length && timingSafeEqual(got, parsed.key);
}
