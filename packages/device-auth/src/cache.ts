/**
 * Credentials cache keyed by credentials key (`credentials_id`), with negative entries,
 * shared in-flight look-ups, and per-row memory of verified passwords (sha256 digests).
 */
import type { CredentialsRow } from './rules.js';
import type { ShareToken } from './shared-cache.js';

interface Entry {
  row: CredentialsRow | null;
  expiresAt: number;
  /** The shared cache's clock and look-up order read before this row was queried (shared-cache.ts), or null. */
  token: ShareToken | null;
  /** sha256(password) → verified? (only for rows) */
  passwords?: Map<string, boolean>;
}

const MAX_ENTRIES = 100_000;
const MAX_WRONG_PASSWORDS = 4;

export type RowQuery = (keys: string[]) => Promise<Map<string, CredentialsRow>>;

export class CredentialsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Map<string, CredentialsRow>>>();
  /** Bumped on invalidation so a look-up that started before it does not store stale rows. */
  private generation = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly negativeTtlMs: number,
  ) {}

  /** The cached row, `null` for a cached miss, `undefined` when unknown or expired. */
  get(key: string): CredentialsRow | null | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.row;
  }

  /** Looks `keys` up (sharing queries already in flight) and caches the outcome. */
  async fill(
    keys: string[],
    query: RowQuery,
    token: ShareToken | null = null,
  ): Promise<Map<string, CredentialsRow | null>> {
    const pending: Array<[string, Promise<Map<string, CredentialsRow>>]> = [];
    const fresh: string[] = [];
    for (const k of keys) {
      const f = this.inflight.get(k);
      if (f) pending.push([k, f]);
      else fresh.push(k);
    }
    if (fresh.length > 0) {
      const gen = this.generation;
      const p = query(fresh).then((rows) => {
        if (gen === this.generation) for (const k of fresh) this.set(k, rows.get(k) ?? null, token);
        return rows;
      });
      for (const k of fresh) this.inflight.set(k, p);
      const forget = () => {
        for (const k of fresh) if (this.inflight.get(k) === p) this.inflight.delete(k);
      };
      p.then(forget, forget);
      for (const k of fresh) pending.push([k, p]);
    }
    const out = new Map<string, CredentialsRow | null>();
    for (const [k, p] of pending) out.set(k, (await p).get(k) ?? null);
    return out;
  }

  private set(key: string, row: CredentialsRow | null, token: ShareToken | null): void {
    if (this.entries.size >= MAX_ENTRIES) this.prune();
    this.entries.set(key, { row, token, expiresAt: Date.now() + (row ? this.ttlMs : this.negativeTtlMs) });
  }

  /** The shared clock this key's row was read under (null: unknown, do not share the result). */
  tokenOf(key: string): ShareToken | null {
    return this.entries.get(key)?.token ?? null;
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now || e.row === null) this.entries.delete(k);
  }

  /** Whether this password (digest) is already known to verify / not verify for this row. */
  knownPassword(row: CredentialsRow, digest: string): boolean | undefined {
    const e = this.entries.get(row.credentialsId);
    if (!e?.row || e.row.passwordHash !== row.passwordHash) return undefined;
    return e.passwords?.get(digest);
  }

  rememberPassword(row: CredentialsRow, digest: string, ok: boolean): void {
    const e = this.entries.get(row.credentialsId);
    if (!e?.row || e.row.passwordHash !== row.passwordHash) return;
    e.passwords ??= new Map();
    if (!ok) {
      // Bounded: someone cycling wrong passwords gets scrypt every time, not our memory.
      const wrong = [...e.passwords].filter(([, v]) => !v);
      if (wrong.length >= MAX_WRONG_PASSWORDS && wrong[0]) e.passwords.delete(wrong[0][0]);
    }
    e.passwords.set(digest, ok);
  }

  /** Drops the device's rows and every cached miss (its new credentials may exist now). */
  invalidateDevice(deviceId: string): void {
    this.generation++;
    // A look-up started before the change must not be shared with one that starts after it.
    this.inflight.clear();
    for (const [k, e] of this.entries) if (e.row === null || e.row.deviceId === deviceId) this.entries.delete(k);
  }
}
