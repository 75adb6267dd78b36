import { describe, expect, it } from 'vitest';
import { checksumOf, crc32Matches, createChecksum } from './checksum.js';

const data = Buffer.from('The quick brown fox jumps over the lazy dog');

describe('checksums of firmware images', () => {
  it('computes the hash algorithms incrementally as over the whole image', () => {
    for (const alg of ['SHA256', 'SHA384', 'SHA512', 'MD5', 'CRC32'] as const) {
      const c = createChecksum(alg);
      c.update(data.subarray(0, 10));
      c.update(data.subarray(10));
      expect(c.digest()).toBe(checksumOf(alg, data));
    }
    expect(checksumOf('SHA256', data)).toBe('d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592');
    expect(checksumOf('MD5', data)).toBe('9e107d9d372bb6826bd81d3542a419d6');
  });

  it("writes CRC32 with the value's bytes least significant first, as ThingsBoard does", () => {
    // The CRC-32 of this sentence is 0x414fa339.
    expect(checksumOf('CRC32', data)).toBe('39a34f41');
    expect(crc32Matches('0x414FA339', '39a34f41')).toBe(true);
    expect(crc32Matches('39A34F41', '39a34f41')).toBe(true);
    expect(crc32Matches('414fa338', '39a34f41')).toBe(false);
    expect(crc32Matches('not hex', '39a34f41')).toBe(false);
  });
});
