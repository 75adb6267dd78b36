/**
 * The delta side of the compact status: which devices events named after a cursor, and the
 * cursor itself (`<seq>.<digest of scope and registry>`, see status-compact.ts).
 */
import { createHash } from 'node:crypto';
import type { Pool } from '@spms/db';
import type { CompactSnapshot } from './status-compact.js';

/** Distinct devices named by events with seq in (after, upTo]. */
export async function loadChangedDeviceIds(pg: Pool, after: number, upTo: number): Promise<Set<string>> {
  if (upTo <= after) return new Set();
  const res = await pg.query<{ device_id: string }>(
    `SELECT DISTINCT device_id::text AS device_id FROM domain_events
      WHERE seq > $1 AND seq <= $2 AND device_id IS NOT NULL`,
    [after, upTo],
  );
  return new Set(res.rows.map((r) => r.device_id));
}

/** Opaque delta cursor: `<seq>.<digest of scope + registry>`. */
export function compactCursor(snapshot: Pick<CompactSnapshot, 'seq' | 'registry'>, scopeKey: string): string {
  const tag = createHash('sha256').update(scopeKey).update('\n').update(snapshot.registry).digest('base64url');
  return `${snapshot.seq}.${tag.slice(0, 16)}`;
}

export function parseCompactCursor(value: string): { seq: number; tag: string } | null {
  const m = /^([0-9]{1,15})\.([A-Za-z0-9_-]{16})$/.exec(value);
  return m ? { seq: Number(m[1]), tag: m[2] as string } : null;
}
