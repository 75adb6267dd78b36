/** Stream caps and re-checks: whose stream it is, and whether its scope changed. */
import type { Principal, Scope } from '../../core/principal.js';

/** Streams are counted per user (all its sessions together) or per API key. */
export function principalKey(p: Principal | undefined): string {
  if (!p) return 'anonymous';
  return p.kind === 'session' ? `user:${p.userId ?? p.id}` : `${p.kind}:${p.id}`;
}

const sameList = (a: string[] | null, b: string[] | null) =>
  a === b ||
  (a !== null && b !== null && a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n'));

export function sameScope(a: Scope | null, b: Scope | null): boolean {
  if (!a || !b) return a === b;
  return sameList(a.regions, b.regions) && sameList(a.customers, b.customers);
}
