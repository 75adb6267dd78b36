import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canCompute, checksumOf, crc32 } from './checksum.js';

const bytes = new TextEncoder().encode('123456789');

describe('browser-side firmware checksums', () => {
  it('CRC32 is the IEEE check value, most significant byte first', () => {
    expect(crc32(bytes)).toBe('cbf43926');
    expect(crc32(new Uint8Array())).toBe('00000000');
  });

  it('SHA-256/384/512 match node:crypto', async () => {
    const blob = new Blob([bytes]);
    for (const [alg, node] of [
      ['SHA256', 'sha256'],
      ['SHA384', 'sha384'],
      ['SHA512', 'sha512'],
    ] as const) {
      expect(canCompute(alg)).toBe(true);
      expect(await checksumOf(blob, alg)).toBe(createHash(node).update(bytes).digest('hex'));
    }
    expect(canCompute('MD5')).toBe(false);
  });
});
