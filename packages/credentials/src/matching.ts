/**
 * ThingsBoard's device-credential rules (docs/thingsboard-compatibility.md), as pure functions.
 *
 * Every credential set has one look-up key (`credentials_id`, unique in the database):
 * - ACCESS_TOKEN: key of the token;
 * - MQTT_BASIC with client id only: key of the client id;
 * - MQTT_BASIC with username only: key of the username — the same key space as access
 *   tokens, since ThingsBoard's "username alone" look-up also matches an access token;
 * - MQTT_BASIC with both: key of the (client id, username) pair.
 * Keys are sha256 digests, so the database never holds an access token in clear.
 *
 * At CONNECT: with an empty username, look up by client id; otherwise by (client id,
 * username), falling back to the username alone.
 */
import { createHash } from 'node:crypto';

export type CredentialsInput =
  | { type: 'ACCESS_TOKEN'; token: string }
  | { type: 'MQTT_BASIC'; clientId?: string | null; username?: string | null; password?: string | null };

/** What the registry stores (no secret in clear). */
export interface StoredCredentials {
  type: 'ACCESS_TOKEN' | 'MQTT_BASIC';
  credentialsId: string;
  clientId: string | null;
  username: string | null;
  passwordHash: string | null;
}

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export function accessTokenKey(token: string): string {
  return `u:${sha(token)}`;
}

export function credentialsKey(input: CredentialsInput): string {
  if (input.type === 'ACCESS_TOKEN') return accessTokenKey(input.token);
  const clientId = input.clientId || null;
  const username = input.username || null;
  if (clientId && username) return `cu:${sha(`${clientId.length}:${clientId}|${username}`)}`;
  if (username) return accessTokenKey(username);
  if (clientId) return `c:${sha(clientId)}`;
  throw new CredentialsValidationError('MQTT Basic credentials need a client id or a username (or both)');
}

export interface CredentialsLookup {
  /** Keys to try in order; the first one found wins. */
  keys: string[];
}

/** The look-up order ThingsBoard uses for an MQTT CONNECT. */
export function basicLookupKeys(clientId: string, username: string | undefined): CredentialsLookup {
  if (!username) return { keys: clientId ? [`c:${sha(clientId)}`] : [] };
  const keys: string[] = [];
  if (clientId) keys.push(credentialsKey({ type: 'MQTT_BASIC', clientId, username }));
  keys.push(accessTokenKey(username));
  return { keys };
}

export class CredentialsValidationError extends Error {
  override name = 'CredentialsValidationError';
}

const MIN_SECRET = 6;
const MAX_FIELD = 256;
// Printable ASCII without spaces: what MQTT firmwares and URLs (HTTP tokens) carry safely.
const PRINTABLE = /^[\x21-\x7e]+$/;

function checkField(name: string, value: string, minLength: number): void {
  if (value.length > MAX_FIELD) throw new CredentialsValidationError(`${name} is longer than ${MAX_FIELD} characters`);
  if (!PRINTABLE.test(value))
    throw new CredentialsValidationError(`${name} may contain only printable ASCII characters, without spaces`);
  if (value.length < minLength)
    throw new CredentialsValidationError(`${name} is too short: use at least ${minLength} characters`);
}

/** Shortest access token an operator may supply through the API (ThingsBoard's generated tokens have 20). */
export const MIN_ACCESS_TOKEN_LENGTH = 20;
/** Shortest MQTT Basic password an operator may supply through the API (as for user passwords). */
export const MIN_BASIC_PASSWORD_LENGTH = 10;

/**
 * Why supplied secrets are shorter than what new credentials need (empty: none). Not part
 * of `validateCredentials`: credentials brought over from ThingsBoard (CSV import) keep
 * what is compiled into the firmware, so imports only warn about them.
 */
export function shortSecretProblems(input: CredentialsInput): string[] {
  if (input.type === 'ACCESS_TOKEN')
    return input.token.length < MIN_ACCESS_TOKEN_LENGTH
      ? [
          `access token is too short: use at least ${MIN_ACCESS_TOKEN_LENGTH} characters (ThingsBoard generates 20), or leave it out to have one generated`,
        ]
      : [];
  if (input.password && input.password.length < MIN_BASIC_PASSWORD_LENGTH)
    return [
      `password is too short: use at least ${MIN_BASIC_PASSWORD_LENGTH} characters, or leave it out to have one generated`,
    ];
  return [];
}

/**
 * Rejects malformed or trivially weak credentials with a message that says what to fix.
 * Client ids and usernames are identifiers (any length ≥ 1); tokens and passwords are
 * secrets and need at least 6 characters, even when imported (`shortSecretProblems` holds
 * new credentials to more).
 */
export function validateCredentials(input: CredentialsInput): void {
  if (input.type === 'ACCESS_TOKEN') {
    if (typeof input.token !== 'string' || input.token === '')
      throw new CredentialsValidationError('access token is required');
    checkField('access token', input.token, MIN_SECRET);
    if (input.token === 'provision')
      throw new CredentialsValidationError('"provision" is reserved for device provisioning');
    return;
  }
  const { clientId, username, password } = input;
  if (!clientId && !username)
    throw new CredentialsValidationError('MQTT Basic credentials need a client id or a username (or both)');
  if (clientId) checkField('client id', clientId, 1);
  if (username) checkField('username', username, 1);
  if (clientId === 'provision' || username === 'provision')
    throw new CredentialsValidationError('"provision" is reserved for device provisioning');
  if (password) checkField('password', password, MIN_SECRET);
}
