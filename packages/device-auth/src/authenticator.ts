/**
 * Device authentication for the gateway (MQTT CONNECT, HTTP device API token).
 *
 * A reconnect storm (every modem in the fleet re-dialling after a cell outage) must not
 * hammer PostgreSQL or burn CPU on scrypt, so:
 * - look-ups are cached per credentials key (found rows for `cacheTtlMs`, misses for
 *   `negativeTtlMs`), and concurrent look-ups of the same key share one query;
 * - a password that verified against a row is remembered as its sha256 for that row (and
 *   a few wrong ones too), so scrypt runs once per credential, not once per connect;
 * - a message on `credentialsChangedChannel(prefix)` (device id) drops that device's
 *   entries and every cached miss (new credentials may now exist), then tells listeners
 *   so the broker can close the device's live session;
 * - because pub/sub is lossy, the same happens from PostgreSQL: triggers record every
 *   credentials change and each process polls them every `revocationPollMs` (revocations.ts),
 *   so a revoked or rotated credential stops working, and live sessions close, within
 *   about a second even when the Redis message is lost;
 * - an authentication whose look-up was in flight when its device's credentials changed is
 *   redone (revocation epoch compared before/after), so it cannot succeed on the old row.
 * - with `shared` set, a success is also kept in Redis for all processes (shared-cache.ts,
 *   keyed by an HMAC under a server secret, invalidated per device by credential changes),
 *   so after a blackout longer than the per-process cache a reconnect costs one Redis call;
 * - scrypt runs through a bounded first-come-first-served queue (verifier.ts): a full queue
 *   is `busy` (CONNACK 0x03), and cache hits never wait behind it.
 * A database error is `unavailable` (CONNACK 0x03 / HTTP 503) and is never cached; Redis
 * being away only means checking the slow way (PostgreSQL + hash), never accepting.
 */
import { createHash } from 'node:crypto';
import { accessTokenKey, basicLookupKeys, verifySecret } from '@spms/credentials';
import { createPool } from '@spms/db';
import { credentialsChangedChannel } from '@spms/queue';
import { Redis } from 'ioredis';
import { CredentialsCache } from './cache.js';
import { watchCredentialChanges } from './revocations.js';
import { type ConnectInput, type CredentialsRow, checkMqttRow, isIdentifierRejected } from './rules.js';
import type { SharedEntry, SharedProbe } from './shared-cache.js';
import { openSharedLink, type SharedLink } from './shared-link.js';
import type { AuthResult, DeviceAuthenticator, DeviceAuthenticatorOptions } from './types.js';
import { FairVerifier, VerifyAbandoned, VerifyQueueFull } from './verifier.js';

export type {
  AuthResult,
  DeviceAuthenticator,
  DeviceAuthenticatorOptions,
  DeviceAuthStats,
  DeviceIdentity,
  MqttAuthOptions,
} from './types.js';

/** A poll repeating a change that pub/sub announced this recently does not close sessions again. */
const ANNOUNCED_RECENTLY_MS = 5_000;
/** An authentication retried this often still seeing revocations gives up as unavailable. */
const MAX_AUTH_ATTEMPTS = 3;

const LOOKUP_SQL = `
  SELECT c.credentials_id, c.type::text AS type, c.client_id, c.username, c.password_hash,
         d.id AS device_id, d.name AS device_name, d.profile_id, p.transport::text AS transport
    FROM device_credentials c
    JOIN devices d ON d.id = c.device_id
    JOIN device_profiles p ON p.id = d.profile_id
   WHERE c.credentials_id = ANY($1::text[])`;

const BAD = { ok: false, reason: 'bad_credentials' } as const;
const UNAVAILABLE = { ok: false, reason: 'unavailable' } as const;
const BUSY = { ok: false, reason: 'busy' } as const;
/** Change rows are kept an hour past the shared cache's lifetime (re-bumped after a reconnect). */
const RETAIN_EXTRA_SEC = 3600;

function mqttInput(clientId: string, username: string | undefined, password: Buffer | string | undefined) {
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

type Found = { row: CredentialsRow; index: number; token: string | null };

export async function createDeviceAuthenticator(opts: DeviceAuthenticatorOptions): Promise<DeviceAuthenticator> {
  const log = opts.logger;
  // A look-up is one indexed query: a device flood waits briefly for a connection, then gets
  // 'unavailable' (CONNACK 0x03 / HTTP 503) instead of queueing without bound.
  const pool = createPool(opts.databaseUrl, {
    max: 4,
    applicationName: 'spms-device-auth',
    connectionTimeoutMs: 3000,
    statementTimeoutMs: 5000,
  });
  const cache = new CredentialsCache(opts.cacheTtlMs ?? 300_000, opts.negativeTtlMs ?? 5_000);
  const verifier = new FairVerifier(opts.verifyConcurrency ?? 1, opts.verifyQueueMax ?? 1000);
  const listeners: Array<(deviceId: string) => void> = [];
  const verifying = new Map<string, Promise<boolean>>();
  const counters = {
    dbQueries: 0,
    secretVerifications: 0,
    invalidations: 0,
    sharedHits: 0,
    sharedMisses: 0,
    sharedErrors: 0,
    sharedStored: 0,
    sharedStale: 0,
  };
  const retainSec = Math.ceil((opts.shared?.ttlMs ?? 0) / 1000) + RETAIN_EXTRA_SEC;
  let shared: SharedLink | undefined;
  /** Revocation epoch: bumped on every invalidation; revokedAt remembers each device's last. */
  let epoch = 0;
  const revokedAt = new Map<string, { epoch: number; at: number; announced: boolean }>();

  function invalidate(deviceId: string, via: 'pubsub' | 'poll'): void {
    const now = Date.now();
    const last = revokedAt.get(deviceId);
    // The poll usually repeats what pub/sub already announced: the device may have
    // reconnected with its new credentials since, so its session is not closed twice.
    const repeat = via === 'poll' && last?.announced === true && now - last.at < ANNOUNCED_RECENTLY_MS;
    counters.invalidations++;
    epoch++;
    if (revokedAt.size > 10_000) for (const [id, r] of revokedAt) if (now - r.at > 60_000) revokedAt.delete(id);
    revokedAt.set(deviceId, { epoch, at: repeat && last ? last.at : now, announced: via === 'pubsub' || repeat });
    cache.invalidateDevice(deviceId);
    // Every process that hears of a change bumps the shared entries too: whichever runs
    // last after the commit makes sure no entry written before it still counts.
    shared?.bump(deviceId);
    if (repeat) return;
    for (const l of listeners) {
      try {
        l(deviceId);
      } catch (err) {
        log?.error({ err, deviceId }, 'device-auth: invalidate listener failed');
      }
    }
  }

  /** Runs an authentication again when its device's credentials changed while it ran. */
  async function settled(attempt: () => Promise<AuthResult>): Promise<AuthResult> {
    for (let i = 0; i < MAX_AUTH_ATTEMPTS; i++) {
      const started = epoch;
      const result = await attempt();
      if (!result.ok || (revokedAt.get(result.device.id)?.epoch ?? 0) <= started) return result;
    }
    return UNAVAILABLE;
  }

  const subscriber = new Redis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  subscriber.on('error', (err) => log?.warn({ err: err.message }, 'device-auth: redis subscriber error'));
  const channel = credentialsChangedChannel(opts.prefix);
  subscriber.on('message', (ch: string, deviceId: string) => {
    if (ch === channel) invalidate(deviceId, 'pubsub');
  });
  // If Redis is down at start-up, keep going (ioredis keeps retrying and re-subscribes):
  // authentication itself only needs PostgreSQL. Entries then expire by TTL.
  await subscriber
    .connect()
    .then(() => subscriber.subscribe(channel))
    .catch((err: Error) => log?.warn({ err: err.message }, 'device-auth: cannot subscribe to invalidations yet'));
  const changes = await watchCredentialChanges({
    pool,
    intervalMs: opts.revocationPollMs ?? 1000,
    onChange: (deviceId) => invalidate(deviceId, 'poll'),
    retainSec,
    ...(log ? { log } : {}),
  });
  if (opts.shared)
    shared = await openSharedLink({
      redisUrl: opts.redisUrl,
      prefix: opts.prefix,
      secret: opts.shared.secret,
      ttlMs: opts.shared.ttlMs,
      retainSec,
      pool,
      ...(log ? { log } : {}),
    });

  async function queryRows(keys: string[]): Promise<Map<string, CredentialsRow>> {
    counters.dbQueries++;
    const res = await pool.query(LOOKUP_SQL, [keys]);
    await opts.afterQuery?.();
    const rows = new Map<string, CredentialsRow>();
    for (const r of res.rows) {
      rows.set(r.credentials_id, {
        credentialsId: r.credentials_id,
        type: r.type,
        clientId: r.client_id,
        username: r.username,
        passwordHash: r.password_hash,
        deviceId: r.device_id,
        deviceName: r.device_name,
        profileId: r.profile_id,
        transport: r.transport,
      });
    }
    return rows;
  }

  /**
   * The first key (in look-up order) that has credentials, or null; throws when the DB is
   * down. `token` is the shared cache's changes token read before this call (shared-cache.ts).
   */
  async function lookup(keys: string[], token: string | null): Promise<Found | null> {
    const known = keys.map((k) => cache.get(k));
    // Answer from the cache only while every key before the first hit is a cached miss.
    for (const [index, hit] of known.entries()) {
      if (hit === undefined) break;
      if (hit !== null) return { row: hit, index, token: cache.tokenOf(keys[index] as string) };
    }
    const missing = keys.filter((_, i) => known[i] === undefined);
    const found = await cache.fill(missing, queryRows, token);
    for (const [index, key] of keys.entries()) {
      const row = known[index] ?? found.get(key);
      if (row) return { row, index, token: cache.tokenOf(key) };
    }
    return null;
  }

  /** What this process's cache alone says about an MQTT CONNECT (undefined: it cannot say). */
  function cachedVerdict(keys: string[], input: ConnectInput): AuthResult | undefined {
    let row: CredentialsRow | undefined;
    for (const key of keys) {
      const hit = cache.get(key);
      if (hit === undefined) return undefined;
      if (hit !== null) {
        row = hit;
        break;
      }
    }
    if (!row) return BAD;
    const verdict = checkMqttRow(row, input);
    if (verdict !== 'verify') return verdict === 'accept' ? identity(row) : BAD;
    const known = cache.knownPassword(row, digestOf(input.password ?? ''));
    return known === undefined ? undefined : known ? identity(row) : BAD;
  }

  /** The shared cache's answer; null when it is off or unreachable (then: the slow way). */
  async function probe(entryKey: string | undefined): Promise<SharedProbe | null> {
    if (!entryKey || !shared) return null;
    try {
      const p = await shared.cache.check(entryKey);
      if (p.entry) counters.sharedHits++;
      else counters.sharedMisses++;
      return p;
    } catch {
      counters.sharedErrors++;
      return null;
    }
  }

  function remember(entryKey: string | undefined, found: Found): void {
    if (!entryKey || !shared || found.token === null) return;
    const { row, index } = found;
    const entry = {
      deviceId: row.deviceId,
      name: row.deviceName,
      profileId: row.profileId,
      transport: row.transport,
      index,
    };
    shared.cache.remember(entryKey, entry, found.token).then(
      (stored) => {
        if (stored) counters.sharedStored++;
        else counters.sharedStale++;
      },
      () => {
        counters.sharedErrors++;
      },
    );
  }

  async function verifyPassword(
    row: CredentialsRow,
    password: string,
    signal: AbortSignal | undefined,
  ): Promise<boolean | 'busy' | 'gone'> {
    const digest = digestOf(password);
    const known = cache.knownPassword(row, digest);
    if (known !== undefined) return known;
    const flightKey = `${row.credentialsId}\0${row.passwordHash}\0${digest}`;
    let p = verifying.get(flightKey);
    if (!p) {
      p = verifier
        .run(() => {
          counters.secretVerifications++;
          return verifySecret(password, row.passwordHash ?? '');
        }, signal)
        .finally(() => verifying.delete(flightKey));
      verifying.set(flightKey, p);
    }
    try {
      const ok = await p;
      cache.rememberPassword(row, digest, ok);
      return ok;
    } catch (err) {
      if (err instanceof VerifyQueueFull) return 'busy';
      if (err instanceof VerifyAbandoned) return 'gone';
      throw err;
    }
  }

  return {
    authenticateMqtt: (clientId, username, password, o) =>
      settled(() => authenticateMqttOnce(clientId, username, password, o?.signal)),
    authenticateToken: (token) => settled(() => authenticateTokenOnce(token)),
    cachedToken(token) {
      const row = token ? cache.get(accessTokenKey(token)) : undefined;
      const result = row && row.type === 'ACCESS_TOKEN' ? identity(row) : undefined;
      return result?.ok ? result.device : undefined;
    },

    async cachedMqtt(clientId, username, password) {
      const input = mqttInput(clientId, username, password);
      if (isIdentifierRejected(input)) return false;
      const { keys } = basicLookupKeys(input.clientId, input.username);
      const local = cachedVerdict(keys, input);
      if (local !== undefined) return local.ok;
      const p = await probe(mqttEntryKey(input));
      if (!p?.entry) return false;
      // A match further down the look-up order counts only while this process knows the
      // keys before it have no credentials (no query here).
      return keys.slice(0, p.entry.index).every((k) => cache.get(k) === null);
    },

    onInvalidate(listener) {
      listeners.push(listener);
    },

    stats: () => {
      const v = verifier.stats();
      return {
        ...counters,
        verifyQueued: v.queued,
        verifyRunning: v.running,
        verifyQueueFull: v.queueFull,
        verifyAbandoned: v.abandoned,
      };
    },

    async close() {
      changes.close();
      shared?.close();
      subscriber.disconnect();
      await pool.end();
    },
  };

  function mqttEntryKey(input: ConnectInput): string | undefined {
    return shared?.cache.entryKey('mqtt', [input.clientId, input.username, input.password]);
  }

  async function authenticateMqttOnce(
    clientId: string,
    username: string | undefined,
    password: Buffer | string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<AuthResult> {
    const input = mqttInput(clientId, username, password);
    if (isIdentifierRejected(input)) return { ok: false, reason: 'identifier_rejected' };
    const { keys } = basicLookupKeys(input.clientId, input.username);
    if (keys.length === 0) return BAD;
    const local = cachedVerdict(keys, input);
    if (local) return local;
    const entryKey = mqttEntryKey(input);
    const p = await probe(entryKey);
    let found: Found | null;
    try {
      if (p?.entry) {
        // A match further down the look-up order holds only while the keys before it still
        // have no credentials (a query without any hash when this process does not know).
        if (p.entry.index === 0 || (await lookup(keys.slice(0, p.entry.index), p.token)) === null)
          return sharedIdentity(p.entry);
      }
      found = await lookup(keys, p?.token ?? null);
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'device-auth: credentials look-up failed');
      return UNAVAILABLE;
    }
    if (!found) return BAD;
    const verdict = checkMqttRow(found.row, input);
    if (verdict === 'refuse') return BAD;
    if (verdict === 'verify') {
      const ok = await verifyPassword(found.row, input.password ?? '', signal);
      if (ok !== true) return ok === false ? BAD : ok === 'busy' ? BUSY : UNAVAILABLE;
    }
    remember(entryKey, found);
    return identity(found.row);
  }

  async function authenticateTokenOnce(token: string): Promise<AuthResult> {
    if (!token) return BAD;
    const key = accessTokenKey(token);
    const local = cache.get(key);
    let entryKey: string | undefined;
    let p: SharedProbe | null = null;
    if (local === undefined) {
      entryKey = shared?.cache.entryKey('token', [token]);
      p = await probe(entryKey);
      if (p?.entry) return sharedIdentity(p.entry);
    }
    let found: Found | null;
    try {
      found = await lookup([key], p?.token ?? null);
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'device-auth: credentials look-up failed');
      return UNAVAILABLE;
    }
    // The HTTP device API takes access tokens only (an MQTT Basic username shares the key space).
    if (found?.row.type !== 'ACCESS_TOKEN') return BAD;
    remember(entryKey, found);
    return identity(found.row);
  }
}

function digestOf(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}
