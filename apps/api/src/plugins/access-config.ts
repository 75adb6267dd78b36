/**
 * Environment variables of access control (sessions, sign-in throttling, password hashing,
 * API rate limits). Spread into ApiConfigSchema (config.ts) so the API still parses its
 * configuration once, from one schema.
 */
import { Type } from '@spms/config';

export const AccessConfigProps = {
  /** A session expires after this long without use (sliding). */
  SESSION_IDLE_TTL_SEC: Type.Integer({ default: 8 * 3600, minimum: 60 }),
  /** …and at the latest this long after sign-in, however active. */
  SESSION_MAX_TTL_SEC: Type.Integer({ default: 7 * 24 * 3600, minimum: 60 }),
  /**
   * Failed sign-ins for one username from one address before that (username, address) pair
   * is locked (the owner elsewhere is not), and for one username from all addresses before
   * its attempts are slowed down (never refused). routes/auth/sessions-throttle.ts.
   */
  SIGNIN_MAX_FAILURES_PER_USER: Type.Integer({ default: 5, minimum: 1 }),
  /** Failed sign-ins from one IP address (any usernames) before that address is locked. */
  SIGNIN_MAX_FAILURES_PER_IP: Type.Integer({ default: 20, minimum: 1 }),
  /** How long an address lock lasts (from its last failure); also the longest pair lock. */
  SIGNIN_LOCKOUT_SEC: Type.Integer({ default: 900, minimum: 1 }),
  /** First (username, address) lock; doubles with every further failure up to SIGNIN_LOCKOUT_SEC. */
  SIGNIN_BACKOFF_BASE_SEC: Type.Integer({ default: 30, minimum: 1 }),
  /** Longest wait before answering a sign-in for a username under attack (0 = no slow-down). */
  SIGNIN_USER_DELAY_MAX_MS: Type.Integer({ default: 3000, minimum: 0, maximum: 10_000 }),
  /** Sign-in requests (successful or not) per IP address per minute. */
  SIGNIN_RATE_LIMIT_PER_MIN: Type.Integer({ default: 10, minimum: 1 }),
  /** Operator API requests per principal (or per IP when unauthenticated) per window; 0 = off. */
  API_RATE_LIMIT_MAX: Type.Integer({ default: 600, minimum: 0 }),
  API_RATE_LIMIT_WINDOW_MS: Type.Integer({ default: 60_000, minimum: 1000 }),
  /**
   * Operator API requests per client IP per window, whoever they claim to be (0 = off):
   * bounds floods of invalid tokens, which fail before the per-principal limit is applied.
   */
  API_RATE_LIMIT_PER_IP_MAX: Type.Integer({ default: 3000, minimum: 0 }),
  /** scrypt cost for user passwords: N = 2^PASSWORD_SCRYPT_LOG_N, r = 8, p = PASSWORD_SCRYPT_P. */
  PASSWORD_SCRYPT_LOG_N: Type.Integer({
    default: 15,
    minimum: 10,
    maximum: 20,
    description: 'below 15 only for tests (OWASP: 2^15 with p=3, or 2^17 with p=1)',
  }),
  PASSWORD_SCRYPT_P: Type.Integer({ default: 3, minimum: 1, maximum: 16 }),
  /**
   * Which peers may set X-Forwarded-For (Fastify trustProxy). Default "false": no proxy is
   * trusted and the client address is the TCP peer, so nobody — not even a host on the LAN,
   * the VPN or Docker's userland proxy — can pick its own address and dodge the per-address
   * sign-in lock-out and rate limits. Behind a real reverse proxy, name it: a hop count
   * ("1": the proxy in front of us), or its addresses/CIDRs/proxy-addr keywords
   * ("10.0.0.5", "172.18.0.0/16,loopback"). "true" trusts any peer: only when every
   * connection comes through a proxy that overwrites the header.
   */
  TRUST_PROXY: Type.String({ default: 'false', minLength: 1 }),
  /** Serve the OpenAPI document (/docs/json) and the interactive docs (/docs). */
  API_DOCS: Type.Boolean({ default: true }),
};

/** TRUST_PROXY → Fastify's trustProxy option (a hop count becomes the equivalent function). */
export function parseTrustProxy(value: string): boolean | string | ((address: string, hop: number) => boolean) {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value;
}
