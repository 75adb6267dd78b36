/**
 * How one authentication finds its answer, cheapest first (authenticator.ts wraps it with
 * revocation handling): this process's cache (rows and remembered password digests), then
 * the shared Redis cache (shared-cache.ts), then PostgreSQL and the password hash through
 * the fair queue (verifier.ts). Successes found the slow way are stored in the shared cache.
 */
import { createHash } from 'node:crypto';
import { accessTokenKey, basicLookupKeys, verifySecret } from '@spms/credentials';
import type { CredentialsCache, RowQuery } from './cache.js';
import { type ConnectInput, type CredentialsRow, checkMqttRow, isIdentifierRejected } from './rules.js';
import type { SharedEntry, SharedProbe, ShareToken } from './shared-cache.js';
import type { SharedLink } from './shared-link.js';
import type { AuthResult } from './types.js';
import { type FairVerifier, type GoneFlag, VerifyAbandoned, VerifyQueueFull } from './verifier.js';

export const BAD = { ok: false, reason: 'bad_credentials' } as const;
export const UNAVAILABLE = { ok: false, reason: 'unavailable' } as const;
const BUSY = { ok: false, reason: 'busy' } as const;
const THROTTLED = { ok: false, reason: 'throttled' } as const;

export interface ResolverCounters {
  dbQueries: number;
  secretVerifications: number;
  sharedHits: number;
  sharedMisses: number;
  sharedErrors: number;
  sharedStored: number;
  sharedStale: number;
}

type Found = { row: CredentialsRow; index: number; token: ShareToken | null };
/** Asked before any query or hash (never for a cache answer); false = refuse as throttled. */
export type SlowPathGate = () => Promise<boolean>;

export function mqttInput(
  clientId: string,
  username: string | undefined,
  password: Buffer | string | undefined,
): ConnectInput {
  return {
    clientId: clientId ?? '',
    username: username || undefined,
    password: password === undefined ? undefined : Buffer.isBuffer(password) ? password.toString('utf8') : password,
  };
}

function identity(row: CredentialsRow): AuthResult {
  return {
    ok: true,
    device: { id: row.deviceId, name: row.deviceName, profileId: row.profileId, transport: row.transport },
  };
}

function sharedIdentity(e: SharedEntry): AuthResult {
  return { ok: true, device: { id: e.deviceId, name: e.name, profileId: e.profileId, transport: e.transport } };
}

const digestOf = (password: string) => createHash('sha256').update(password).digest('hex');

export class CredentialResolver {
  private readonly verifying = new Map<string, Promise<boolean>>();

  constructor(
    private readonly cache: CredentialsCache,
    private readonly queryRows: RowQuery,
    private readonly verifier: FairVerifier,
    private readonly counters: ResolverCounters,
    private readonly shared: () => SharedLink | undefined,
    private readonly onLookupError: (err: Error) => void,
  ) {}

  async mqtt(input: ConnectInput, signal?: GoneFlag, gate?: SlowPathGate): Promise<AuthResult> {
    if (isIdentifierRejected(input)) return { ok: false, reason: 'identifier_rejected' };
    const { keys } = basicLookupKeys(input.clientId, input.username);
    if (keys.length === 0) return BAD;
    const local = this.cachedVerdict(keys, input);
    if (local) return local;
    const entryKey = this.shared()?.cache.entryKey('mqtt', [input.clientId, input.username, input.password]);
    const p = await this.probe(entryKey);
    // A match further down the look-up order is answered only while no MQTT Basic
    // credentials were added since it was stored (the look-up order epoch, shared-cache.ts).
    if (p?.entry) return sharedIdentity(p.entry);
    if (gate && !(await gate())) return THROTTLED;
    let found: Found | null;
    try {
      found = await this.lookup(keys, p?.token ?? null);
    } catch (err) {
      this.onLookupError(err as Error);
      return UNAVAILABLE;
    }
    if (!found) return BAD;
    const verdict = checkMqttRow(found.row, input);
    if (verdict === 'refuse') return BAD;
    if (verdict === 'verify') {
      const ok = await this.verifyPassword(found.row, input.password ?? '', signal);
      if (ok !== true) return ok === false ? BAD : ok === 'busy' ? BUSY : UNAVAILABLE;
    }
    this.remember(entryKey, found, keys);
    return identity(found.row);
  }

  async token(token: string): Promise<AuthResult> {
    if (!token) return BAD;
    const key = accessTokenKey(token);
    let entryKey: string | undefined;
    let p: SharedProbe | null = null;
    if (this.cache.get(key) === undefined) {
      entryKey = this.shared()?.cache.entryKey('token', [token]);
      p = await this.probe(entryKey);
      if (p?.entry) return sharedIdentity(p.entry);
    }
    let found: Found | null;
    try {
      found = await this.lookup([key], p?.token ?? null);
    } catch (err) {
      this.onLookupError(err as Error);
      return UNAVAILABLE;
    }
    // The HTTP device API takes access tokens only (an MQTT Basic username shares the key space).
    if (found?.row.type !== 'ACCESS_TOKEN') return BAD;
    this.remember(entryKey, found, [key]);
    return identity(found.row);
  }

  /** Known good from a cache alone (no query, no hash): for throttling decisions. */
  async knownGood(input: ConnectInput): Promise<boolean> {
    if (isIdentifierRejected(input)) return false;
    const { keys } = basicLookupKeys(input.clientId, input.username);
    const local = this.cachedVerdict(keys, input);
    if (local !== undefined) return local.ok;
    const p = await this.probe(this.shared()?.cache.entryKey('mqtt', [input.clientId, input.username, input.password]));
    if (!p?.entry) return false;
    return keys.slice(0, p.entry.index).every((k) => this.cache.get(k) === null);
  }

  /**
   * The first key (in look-up order) that has credentials, or null; throws when the DB is
   * down. `token` is what the shared cache said before this call (shared-cache.ts).
   */
  private async lookup(keys: string[], token: ShareToken | null): Promise<Found | null> {
    const known = keys.map((k) => this.cache.get(k));
    // Answer from the cache only while every key before the first hit is a cached miss.
    for (const [index, hit] of known.entries()) {
      if (hit === undefined) break;
      if (hit !== null) return { row: hit, index, token: this.cache.tokenOf(keys[index] as string) };
    }
    const missing = keys.filter((_, i) => known[i] === undefined);
    const found = await this.cache.fill(missing, this.queryRows, token);
    for (const [index, key] of keys.entries()) {
      const row = known[index] ?? found.get(key);
      if (row) return { row, index, token: this.cache.tokenOf(key) };
    }
    return null;
  }

  /** What this process's cache alone says about an MQTT CONNECT (undefined: it cannot say). */
  private cachedVerdict(keys: string[], input: ConnectInput): AuthResult | undefined {
    let row: CredentialsRow | undefined;
    for (const key of keys) {
      const hit = this.cache.get(key);
      if (hit === undefined) return undefined;
      if (hit !== null) {
        row = hit;
        break;
      }
    }
    if (!row) return BAD;
    const verdict = checkMqttRow(row, input);
    if (verdict !== 'verify') return verdict === 'accept' ? identity(row) : BAD;
    const known = this.cache.knownPassword(row, digestOf(input.password ?? ''));
    return known === undefined ? undefined : known ? identity(row) : BAD;
  }

  /** The shared cache's answer; null when it is off or unreachable (then: the slow way). */
  private async probe(entryKey: string | undefined): Promise<SharedProbe | null> {
    const shared = this.shared();
    if (!entryKey || !shared) return null;
    try {
      const p = await shared.cache.check(entryKey);
      if (p.entry) this.counters.sharedHits++;
      else this.counters.sharedMisses++;
      return p;
    } catch {
      this.counters.sharedErrors++;
      return null;
    }
  }

  /**
   * Stores a success found the slow way in the shared cache. A match at `keys[index]` with
   * index > 0 is stored under the look-up order epoch that was current when the keys before
   * it were found empty (their own tokens); not at all when that is unknown or they differ.
   */
  private remember(entryKey: string | undefined, found: Found, keys: string[]): void {
    const shared = this.shared();
    if (!entryKey || !shared || found.token === null) return;
    const { row, index } = found;
    let token = found.token;
    if (index > 0) {
      const before = keys.slice(0, index).map((k) => this.cache.tokenOf(k));
      const order = before[0]?.order;
      if (!order || before.some((t) => t?.order !== order)) return;
      token = { clock: found.token.clock, order };
    }
    const entry = { deviceId: row.deviceId, name: row.deviceName, profileId: row.profileId, transport: row.transport };
    shared.cache.remember(entryKey, { ...entry, index }, token).then(
      (stored) => {
        if (stored) this.counters.sharedStored++;
        else this.counters.sharedStale++;
      },
      () => {
        this.counters.sharedErrors++;
      },
    );
  }

  private async verifyPassword(
    row: CredentialsRow,
    password: string,
    signal: GoneFlag | undefined,
  ): Promise<boolean | 'busy' | 'gone'> {
    const digest = digestOf(password);
    const known = this.cache.knownPassword(row, digest);
    if (known !== undefined) return known;
    const flightKey = `${row.credentialsId}\0${row.passwordHash}\0${digest}`;
    let p = this.verifying.get(flightKey);
    if (!p) {
      p = this.verifier
        .run(() => {
          this.counters.secretVerifications++;
          return verifySecret(password, row.passwordHash ?? '');
        }, signal)
        .finally(() => this.verifying.delete(flightKey));
      this.verifying.set(flightKey, p);
    }
    try {
      const ok = await p;
      this.cache.rememberPassword(row, digest, ok);
      return ok;
    } catch (err) {
      if (err instanceof VerifyQueueFull) return 'busy';
      if (err instanceof VerifyAbandoned) return 'gone';
      throw err;
    }
  }
}
