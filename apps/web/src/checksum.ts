/**
 * Checksums of a firmware image computed in the browser, for an admin who leaves the field
 * empty (ThingsBoard offers "auto-generate" too). SHA-256/384/512 come from SubtleCrypto,
 * which browsers offer only in a secure context (HTTPS or localhost); CRC32 is computed
 * here. MD5 is not offered: SubtleCrypto has none, and it is a weak choice for new images.
 * The API verifies whatever is sent, so a wrong value is refused there, not stored.
 */
export type AutoAlgorithm = 'SHA256' | 'SHA384' | 'SHA512' | 'CRC32';
const SUBTLE: Record<Exclude<AutoAlgorithm, 'CRC32'>, string> = {
  SHA256: 'SHA-256',
  SHA384: 'SHA-384',
  SHA512: 'SHA-512',
};

/** Whether this browser can compute `algorithm` here (SHA* needs a secure context). */
export const canCompute = (algorithm: string): algorithm is AutoAlgorithm =>
  algorithm === 'CRC32' || (algorithm in SUBTLE && typeof crypto !== 'undefined' && !!crypto.subtle);

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

let table: Uint32Array | null = null;
/** CRC-32 (IEEE, as zlib) as 8 hex digits, most significant first (what `crc32` tools print). */
export function crc32(bytes: Uint8Array): string {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = (table[(crc ^ b) & 0xff] as number) ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0');
}

/** The image's checksum as lowercase hex (reads the file into memory once). */
export async function checksumOf(file: Blob, algorithm: AutoAlgorithm): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (algorithm === 'CRC32') return crc32(bytes);
  return hex(new Uint8Array(await crypto.subtle.digest(SUBTLE[algorithm], bytes)));
}
