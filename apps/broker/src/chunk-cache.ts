/**
 * Firmware chunks served recently, per broker process, least recently used first out, up to
 * a byte budget: during a rollout many devices ask for the same chunks. Keys name the image
 * id, so entries never go stale (an image id is one upload; a new upload is a new id).
 */
export function createChunkCache(maxBytes: number) {
  const entries = new Map<string, Buffer>();
  let total = 0;
  return {
    get(key: string): Buffer | undefined {
      const v = entries.get(key);
      if (v) {
        entries.delete(key);
        entries.set(key, v);
      }
      return v;
    },
    set(key: string, value: Buffer): void {
      if (value.length > maxBytes || entries.has(key)) return;
      entries.set(key, value);
      total += value.length;
      for (const [k, v] of entries) {
        if (total <= maxBytes) break;
        entries.delete(k);
        total -= v.length;
      }
    },
  };
}
