import { describe, expect, it } from 'vitest';
import { hashScrypt, parseScrypt, verifyScrypt } from './scrypt.js';
import { hashSecret, verifySecret } from './secrets.js';

// Hashes written by the two implementations this module replaced (device secrets in
// secrets.ts, user passwords in the API's passwords.ts), before they shared it: stored rows
// like these must keep verifying without a migration.
const STORED_DEVICE_SECRET = 'scrypt$4096$8$1$eaL1oXJ3sQtINazYz3LE8A==$T930VEaFoBBivddo/uMM/Dkgel37r2FkhOiHKOBZ4D4=';
const STORED_PASSWORD = 'scrypt$15$8$3$LiwXq8zRldeJJNWkiQAy_g$C39yhjD7GI3SyXpU0ubLf9XEyKkO3FPf5R2pbfulqBw';
// Decomposed "Å" and the "ﬁ" ligature: passwords are NFKC-normalised before hashing.
const STORED_PASSWORD_NFKC = 'scrypt$10$8$1$vmfU3KRsXSgZui5-CJoIQQ$nQJ2BPIqP-thnpJNBfi8UlN4gr1BXYGFDPk3M-_-VVA';

describe('scrypt formats', () => {
  it('verifies device secrets stored before the module existed', async () => {
    expect(await verifySecret('supplied-device-pass', STORED_DEVICE_SECRET)).toBe(true);
    expect(await verifyScrypt('supplied-device-pass', STORED_DEVICE_SECRET, 'device-secret')).toBe(true);
    expect(await verifySecret('supplied-device-pasS', STORED_DEVICE_SECRET)).toBe(false);
  });

  it('verifies passwords stored before the module existed, normalised', async () => {
    expect(await verifyScrypt('correct horse battery', STORED_PASSWORD, 'password')).toBe(true);
    expect(await verifyScrypt('correct horse batterY', STORED_PASSWORD, 'password')).toBe(false);
    expect(await verifyScrypt('A\u030Angstr\uFB01m pass', STORED_PASSWORD_NFKC, 'password')).toBe(true);
    expect(await verifyScrypt('\u00C5ngstrfim pass', STORED_PASSWORD_NFKC, 'password')).toBe(true);
  });

  it('reads the cost field as the flavour defines it', () => {
    expect(parseScrypt(STORED_DEVICE_SECRET, 'device-secret')?.params).toEqual({ logN: 12, r: 8, p: 1 });
    expect(parseScrypt(STORED_PASSWORD, 'password')?.params).toEqual({ logN: 15, r: 8, p: 3 });
    // N = 15 is no power of two, and 4096 as log2(N) asks for far too much memory.
    expect(parseScrypt(STORED_PASSWORD, 'device-secret')).toBeNull();
    expect(parseScrypt(STORED_DEVICE_SECRET, 'password')).toBeNull();
  });

  it('writes the same formats it reads', async () => {
    const device = await hashSecret('another supplied one', 'supplied');
    expect(device).toMatch(/^scrypt\$4096\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifySecret('another supplied one', device)).toBe(true);
    const password = await hashScrypt('a new password', { logN: 10, r: 8, p: 1 }, 'password');
    expect(password).toMatch(/^scrypt\$10\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyScrypt('a new password', password, 'password')).toBe(true);
  });

  it('never matches a malformed hash', async () => {
    for (const bad of ['', 'scrypt$', 'scrypt$10$8$1$c2FsdA$', 'scrypt$0$8$1$c2FsdA$a2V5', 'scrypt$x$8$1$a$b']) {
      expect(await verifyScrypt('x', bad, 'password')).toBe(false);
      expect(await verifyScrypt('x', bad, 'device-secret')).toBe(false);
    }
  });
});
