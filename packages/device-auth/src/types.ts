/** The device authenticator's public types (authenticator.ts). */
import type { Logger } from '@spms/log';
import type { GoneFlag } from './verifier.js';

export type DeviceIdentity = { id: string; name: string; profileId: string; transport: 'MQTT' | 'HTTP' };
export type AuthResult =
  | { ok: true; device: DeviceIdentity }
  | { ok: false; reason: 'bad_credentials' | 'identifier_rejected' | 'unavailable' | 'busy' | 'throttled' };

export interface MqttAuthOptions {
  /** Set once the device has gone (socket closed): a check still waiting is dropped. An
   *  AbortSignal fits; so does a getter over the connection (no allocation per connect). */
  signal?: GoneFlag;
  /**
   * Asked only when no cache knows the credentials good, before any query or hash; false
   * ends the attempt as `throttled` (the broker's failed-auth budget of the address).
   */
  gate?: () => Promise<boolean>;
}

export interface DeviceAuthenticator {
  authenticateMqtt(
    clientId: string,
    username: string | undefined,
    password: Buffer | string | undefined,
    opts?: MqttAuthOptions,
  ): Promise<AuthResult>;
  authenticateToken(token: string): Promise<AuthResult>;
  /** The device of an access token already in the cache (no query), for throttling decisions. */
  cachedToken(token: string): DeviceIdentity | undefined;
  /** Whether these MQTT credentials are already known good from this process's cache or the
   *  shared one (no query, no hash), for throttling decisions: a known device behind a
   *  throttled carrier-NAT address. */
  cachedMqtt(clientId: string, username: string | undefined, password: Buffer | string | undefined): Promise<boolean>;
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
  /** Shared (Redis) cache: answered, not answered, unreachable, successes stored. */
  sharedHits: number;
  sharedMisses: number;
  sharedErrors: number;
  sharedStored: number;
  /** Successes not stored because credentials changed since the row was read. */
  sharedStale: number;
  /** Password checks waiting / hashing now, refused on a full queue, dropped (device gone). */
  verifyQueued: number;
  verifyRunning: number;
  verifyQueueFull: number;
  verifyAbandoned: number;
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
  /**
   * Verified-credential cache shared through Redis by every process with the same secret
   * (HMAC key, at least 16 characters) and prefix; off when absent.
   */
  shared?: { secret: string; ttlMs: number };
  /** Password hashes computed at once, and checks allowed to wait (default 1 and 1000). */
  verifyConcurrency?: number;
  verifyQueueMax?: number;
  /** A check whose expected wait exceeds this is `busy` at once (0 = only the length bound). */
  verifyMaxWaitMs?: number;
  logger?: Logger;
  /** Test hook: awaited after each credentials query, before its rows are used. */
  afterQuery?: () => Promise<void>;
}
