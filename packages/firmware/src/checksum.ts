/**
 * The checksum algorithms of ThingsBoard's OTA packages, computed incrementally so an image
 * is checked while it streams (never held whole). Values are lowercase hex.
 *
 * CRC32 is the zlib CRC-32 written the way ThingsBoard writes it: its server formats the
 * 32-bit value's bytes least significant first (Guava's HashCode), and its device clients
 * compare against that form. So the CRC-32 0x1c291ca3 is "a31c291c" here. The usual
 * big-endian form (what `crc32` tools print) is accepted on upload (crc32Matches) and stored
 * in ThingsBoard's form, the one pushed to devices.
 */
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const CHECKSUM_ALGORITHMS = ['SHA256', 'SHA384', 'SHA512', 'MD5', 'CRC32'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export const isChecksumAlgorithm = (s: string): s is ChecksumAlgorithm =>
  (CHECKSUM_ALGORITHMS as readonly string[]).includes(s);

export interface Checksummer {
  update(chunk: Uint8Array): void;
  /** Lowercase hex. Call once. */
  digest(): string;
}

export function createChecksum(algorithm: ChecksumAlgorithm): Checksummer {
  if (algorithm === 'CRC32') {
    let value = 0;
    return {
      update: (chunk) => {
        value = crc32(chunk, value);
      },
      digest: () => crc32Hex(value),
    };
  }
  const hash: Hash = createHash(algorithm.toLowerCase());
  return { update: (chunk) => hash.update(chunk), digest: () => hash.digest('hex') };
}

/** A checksum as the uploader wrote it, normalised for comparison (hex, lowercase, no 0x). */
export function normaliseChecksum(value: string): string {
  return value.trim().toLowerCase().replace(/^0x/, '');
}

/** The checksum of a whole buffer (tests, the simulator). */
export function checksumOf(algorithm: ChecksumAlgorithm, data: Uint8Array): string {
  const c = createChecksum(algorithm);
  c.update(data);
  return c.digest();
}

/** A CRC-32 in ThingsBoard's form: the value's bytes least significant first, as hex. */
export function crc32Hex(value: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b.toString('hex');
}

/**
 * Whether a CRC-32 as an uploader wrote it (either byte order, with or without 0x) is the
 * one computed (ThingsBoard's form, crc32Hex).
 */
export function crc32Matches(given: string, computed: string): boolean {
  const hex = normaliseChecksum(given);
  if (!/^[0-9a-f]{1,8}$/.test(hex)) return false;
  const padded = hex.padStart(8, '0');
  return padded === computed || Buffer.from(padded, 'hex').reverse().toString('hex') === computed;
}
