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
import { accessTokenKey } from '@spms/credentials';
import { createPool } from '@spms/db';
import { createRedis, credentialsChangedChannel } from '@spms/queue';
import { batchedQuery } from './batch-query.js';
import { CredentialsCache } from './cache.js';
import { CredentialResolver, mqttInput, UNAVAILABLE } from './resolver.js';
import { watchCredentialChanges } from './revocations.js';
import type { CredentialsRow } from './rules.js';
import { openSharedLink, type SharedLink } from './shared-link.js';
import type { AuthResult, DeviceAuthenticator, DeviceAuthenticatorOptions } from './types.js';
import { FairVerifier } from './verifier.js';

export type {
  AuthResult,
  DeviceAuthenticator,
  DeviceAuthenticatorOptions,
  DeviceAuthStats,
  DeviceIdentity,
  MqttAuthOptions,
} from './types.js';
export type { GoneFlag } from './verifier.js';

/** A poll repeating a change that pub/sub announced this recently does not close sessions again. */
const ANNOUNCED_RECENTLY_MS = 5_000;
/** An authentication retried this often still seeing revocations gives up as unavailable. */
const MAX_AUTH_ATTEMPTS = 3;
const LOOKUP_POOL_SIZE = 2;
const POLL_POOL_SIZE = 2;
/** Change rows are kept an hour past the shared cache's lifetime (re-bumped after a reconnect). */
const RETAIN_EXTRA_SEC = 3600;

/**
 * One row per key found. Shaped so that its one generic plan (the pool plans it once per
 * connection, genericPlans below) is index look-ups whatever the statistics say: each key
 * probes the unique index on credentials_id, then the two primary keys. The plain
 * three-table join's generic plan, on tables not yet analysed (a fleet just imported, and
 * autovacuum off or not yet run), hash-joins a sequential scan of every device per CONNECT.
 * credentials_id is unique, so LIMIT 1 drops nothing; it keeps the planner from flattening
 * the subquery into that join.
 */
export const LOOKUP_SQL = `
  SELECT x.* FROM unnest($1::text[]) AS k(id)
  CROSS JOIN LATERAL (
    SELECT c.credentials_id, c.type::text AS type, c.client_id, c.username, c.password_hash,
           d.id AS device_id, d.name AS device_name, d.profile_id, p.transport::text AS transport
      FROM device_credentials c
      JOIN devices d ON d.id = c.device_id
      JOIN device_profiles p ON p.id = d.profile_id
     WHERE c.credentials_id = k.id
     LIMIT 1) x`;

export async function createDeviceAuthenticator(opts: DeviceAuthenticatorOptions): Promise<DeviceAuthenticator> {
  const log = opts.logger;
  // A look-up is one indexed query: a device flood waits briefly for a connection, then gets
  // 'unavailable' (CONNACK 0x03 / HTTP 503) instead of queueing without bound. One look-up is
  // in flight at a time (below): an answer lost on a dead connection must fail that batch (and
  // drop the connection) instead of holding every later one.
  const sessions = {
    applicationName: 'spms-device-auth',
    connectionTimeoutMs: 3000,
    statementTimeoutMs: 5000,
    queryTimeoutMs: 6000,
  };
  // The look-up is planned once per connection (LOOKUP_SQL), not at every CONNECT: with auto
  // plans PostgreSQL re-planned it every call, ~150 µs of its CPU per look-up of a cold storm.
  // Only the look-up runs on this pool: the revocation poll's range conditions need their
  // values planned in (a generic plan scans all of a full change table every second).
  const lookups = createPool(opts.databaseUrl, { ...sessions, max: LOOKUP_POOL_SIZE, genericPlans: true });
  // The revocation poll and the shared cache's start-up read (revocations.ts).
  const pool = createPool(opts.databaseUrl, { ...sessions, max: POLL_POOL_SIZE });
  const cache = new CredentialsCache(opts.cacheTtlMs ?? 300_000, opts.negativeTtlMs ?? 5_000);
  const verifier = new FairVerifier(
    opts.verifyConcurrency ?? 1,
    opts.verifyQueueMax ?? 1000,
    opts.verifyMaxWaitMs ?? 0,
  );
  const listeners: Array<(deviceId: string) => void> = [];
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

  const subscriber = createRedis(opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
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
    // Copied to the shared cache every poll (a failed copy is retried by the next one); read
    // only where there is a shared cache.
    ...(opts.shared
      ? {
          onLookupOrder: (epoch: string) => {
            shared?.cache.syncOrder(epoch).catch(() => {});
          },
        }
      : {}),
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
    // A named statement: each pool connection parses and plans it once, not every CONNECT
    // (a cold storm is tens of thousands of these, most with a single key).
    const res = await lookups.query({ name: 'spms-device-auth-lookup', text: LOOKUP_SQL, values: [keys] });
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

  const resolver = new CredentialResolver(
    cache,
    // Grouped while a look-up is in flight (batch-query.ts): one at a time, so that under a
    // storm the keys that arrive meanwhile go together into the next query instead of three
    // single-key queries at once (PostgreSQL's cost is mostly per statement, not per key); the
    // other connections stay free for the revocation poll.
    batchedQuery(queryRows, 1),
    verifier,
    counters,
    () => shared,
    (err) => log?.error({ err: err.message }, 'device-auth: credentials look-up failed'),
  );

  return {
    authenticateMqtt: (clientId, username, password, o) =>
      settled(() => resolver.mqtt(mqttInput(clientId, username, password), o?.signal, o?.gate)),
    authenticateToken: (token) => settled(() => resolver.token(token)),
    cachedToken(token) {
      const row = token ? cache.get(accessTokenKey(token)) : undefined;
      return row && row.type === 'ACCESS_TOKEN'
        ? { id: row.deviceId, name: row.deviceName, profileId: row.profileId, transport: row.transport }
        : undefined;
    },
    cachedMqtt: (clientId, username, password) => resolver.knownGood(mqttInput(clientId, username, password)),

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
      await Promise.all([pool.end(), lookups.end()]);
    },
  };
}
