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
 * A database error is `unavailable` (CONNACK 0x03 / HTTP 503) and is never cached.
 */
import { createHash } from 'node:crypto';
import { accessTokenKey, basicLookupKeys, verifySecret } from '@spms/credentials';
import { createPool } from '@spms/db';
import type { Logger } from '@spms/log';
import { credentialsChangedChannel } from '@spms/queue';
import { Redis } from 'ioredis';
import { CredentialsCache } from './cache.js';
import { watchCredentialChanges } from './revocations.js';
import { type CredentialsRow, checkMqttRow, isIdentifierRejected } from './rules.js';

export type DeviceIdentity = { id: string; name: string; profileId: string; transport: 'MQTT' | 'HTTP' };
export type AuthResult =
  | { ok: true; device: DeviceIdentity }
  | { ok: false; reason: 'bad_credentials' | 'identifier_rejected' | 'unavailable' };

export interface DeviceAuthenticator {
  authenticateMqtt(
    clientId: string,
    username: string | undefined,
    password: Buffer | string | undefined,
  ): Promise<AuthResult>;
  authenticateToken(token: string): Promise<AuthResult>;
  /** The device of an access token already in the cache (no query), for throttling decisions. */
  cachedToken(token: string): DeviceIdentity | undefined;
  /** The device whose MQTT credentials are already known good from the cache (no query, no
   *  hash), for throttling decisions: a known device behind a throttled carrier-NAT address. */
  cachedMqtt(clientId: string, username: string | undefined, password: Buffer | string | undefined): boolean;
  /** Called with a device id when its credentials were rotated/revoked or the device deleted (Redis channel credentialsChangedChannel(prefix)). */
  onInvalidate(listener: (deviceId: string) => void): void;
  /** Counters for /metrics (and for tests proving the cache works). */
  stats(): DeviceAuthStats;
  close(): Promise<void>;
}

export interface DeviceAuthStats {
  /** Queries sent to PostgreSQL (each may cover several look-up keys). */
  dbQueries: number;
  /** Password hashes actually computed (scrypt/sha256), i.e. not answered from the cache. */
  secretVerifications: number;
  /** Invalidation messages received. */
  invalidations: number;
}

export interface DeviceAuthenticatorOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  /** How long a found credentials row is trusted without asking PostgreSQL (default 5 min). */
  cacheTtlMs?: number;
  /** How long an unknown key is remembered as unknown (default 5 s). */
  negativeTtlMs?: number;
  /** How often PostgreSQL is asked for credential changes (default 1 s; pub/sub is faster but lossy). */
  revocationPollMs?: number;
  logger?: Logger;
  /** Test hook: awaited after each credentials query, before its rows are used. */
  afterQuery?: () => Promise<void>;
}

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
  const listeners: Array<(deviceId: string) => void> = [];
  const verifying = new Map<string, Promise<boolean>>();
  const counters: DeviceAuthStats = { dbQueries: 0, secretVerifications: 0, invalidations: 0 };
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

  /** The first key (in look-up order) that has credentials, or null; throws when the DB is down. */
  async function lookup(keys: string[]): Promise<CredentialsRow | null> {
    const known = keys.map((k) => cache.get(k));
    // Answer from the cache only while every key before the first hit is a cached miss.
    for (const hit of known) {
      if (hit === undefined) break;
      if (hit !== null) return hit;
    }
    const missing = keys.filter((_, i) => known[i] === undefined);
    const found = await cache.fill(missing, queryRows);
    for (const [i, key] of keys.entries()) {
      const row = known[i] ?? found.get(key);
      if (row) return row;
    }
    return null;
  }

  async function verifyPassword(row: CredentialsRow, password: string): Promise<boolean> {
    const digest = createHash('sha256').update(password).digest('hex');
    const known = cache.knownPassword(row, digest);
    if (known !== undefined) return known;
    const flightKey = `${row.credentialsId}\0${row.passwordHash}\0${digest}`;
    let p = verifying.get(flightKey);
    if (!p) {
      counters.secretVerifications++;
      p = verifySecret(password, row.passwordHash ?? '').finally(() => verifying.delete(flightKey));
      verifying.set(flightKey, p);
    }
    const ok = await p;
    cache.rememberPassword(row, digest, ok);
    return ok;
  }

  return {
    authenticateMqtt: (clientId, username, password) =>
      settled(() => authenticateMqttOnce(clientId, username, password)),
    authenticateToken: (token) => settled(() => authenticateTokenOnce(token)),
    cachedToken(token) {
      const row = token ? cache.get(accessTokenKey(token)) : undefined;
      const result = row && row.type === 'ACCESS_TOKEN' ? identity(row) : undefined;
      return result?.ok ? result.device : undefined;
    },

    cachedMqtt(clientId, username, password) {
      const input = mqttInput(clientId, username, password);
      if (isIdentifierRejected(input)) return false;
      const { keys } = basicLookupKeys(input.clientId, input.username);
      // As lookup(): the first key with a row decides, and only if every earlier key is a known miss.
      let row: CredentialsRow | undefined;
      for (const key of keys) {
        const hit = cache.get(key);
        if (hit === undefined) return false;
        if (hit !== null) {
          row = hit;
          break;
        }
      }
      if (!row) return false;
      const verdict = checkMqttRow(row, input);
      if (verdict !== 'verify') return verdict === 'accept';
      const digest = createHash('sha256')
        .update(input.password ?? '')
        .digest('hex');
      return cache.knownPassword(row, digest) === true;
    },

    onInvalidate(listener) {
      listeners.push(listener);
    },

    stats: () => ({ ...counters }),

    async close() {
      changes.close();
      subscriber.disconnect();
      await pool.end();
    },
  };

  async function authenticateMqttOnce(
    clientId: string,
    username: string | undefined,
    password: Buffer | string | undefined,
  ): Promise<AuthResult> {
    const input = mqttInput(clientId, username, password);
    if (isIdentifierRejected(input)) return { ok: false, reason: 'identifier_rejected' };
    const { keys } = basicLookupKeys(input.clientId, input.username);
    if (keys.length === 0) return BAD;
    let row: CredentialsRow | null;
    try {
      row = await lookup(keys);
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'device-auth: credentials look-up failed');
      return UNAVAILABLE;
    }
    if (!row) return BAD;
    const verdict = checkMqttRow(row, input);
    if (verdict === 'accept') return identity(row);
    if (verdict === 'refuse') return BAD;
    return (await verifyPassword(row, input.password ?? '')) ? identity(row) : BAD;
  }

  async function authenticateTokenOnce(token: string): Promise<AuthResult> {
    if (!token) return BAD;
    let row: CredentialsRow | null;
    try {
      row = await lookup([accessTokenKey(token)]);
    } catch (err) {
      log?.error({ err: (err as Error).message }, 'device-auth: credentials look-up failed');
      return UNAVAILABLE;
    }
    // The HTTP device API takes access tokens only (an MQTT Basic username shares the key space).
    return row && row.type === 'ACCESS_TOKEN' ? identity(row) : BAD;
  }
}
