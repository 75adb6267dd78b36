/**
 * Turns an operator's credentials request into what the registry stores. Supplied
 * credentials are kept as the firmware has them (moving a device must not need a
 * re-flash); missing secrets are generated and returned once as `issued`.
 */
import {
  accessTokenKey,
  type CredentialsInput,
  CredentialsValidationError,
  credentialsKey,
  generateCredentials,
  generateSecret,
  hashSecret,
  shortSecretProblems,
  validateCredentials,
} from '@spms/credentials';
import type { Prisma } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { inScope } from '../../core/scope.js';
import { HIDDEN_CONFLICT } from './device-conflicts.js';

/** What an operator sends: supply the device's existing credentials, or let SPMS generate. */
export interface CredentialsRequest {
  type: 'ACCESS_TOKEN' | 'MQTT_BASIC';
  /** ACCESS_TOKEN only; omitted → generated. */
  token?: string;
  clientId?: string | null;
  username?: string | null;
  /** MQTT_BASIC: omitted → generated; null → no password (ThingsBoard allows it). */
  password?: string | null;
  /** Generate the secret (and any missing client id / username) even if one was sent. */
  generate?: boolean;
}

/** The full set a device must use, shown once when SPMS generated any part of it. */
export type IssuedCredentials =
  | { type: 'ACCESS_TOKEN'; token: string }
  | { type: 'MQTT_BASIC'; clientId: string | null; username: string | null; password: string | null };

export interface CredentialsRow {
  type: 'ACCESS_TOKEN' | 'MQTT_BASIC';
  credentialsId: string;
  clientId: string | null;
  username: string | null;
  passwordHash: string | null;
}

export interface PreparedCredentials {
  row: CredentialsRow;
  issued?: IssuedCredentials;
  /** Supplied secrets shorter than new credentials need, accepted because `allowShortSecrets`. */
  warnings?: string[];
  /**
   * The name matched by ThingsBoard's "username alone" look-up (an access token, or the
   * username of username-only MQTT Basic). In memory only (assertNoShadowing), never stored.
   */
  usernameLookup?: string;
}

export interface PrepareOptions {
  /** false: only the look-up key is needed (dry run), skip scrypt. */
  hash?: boolean;
  /**
   * Accept supplied tokens / passwords shorter than MIN_ACCESS_TOKEN_LENGTH /
   * MIN_BASIC_PASSWORD_LENGTH, reported as `warnings`: for credentials brought over with a
   * fleet (CSV import) that firmwares already carry. Credentials created or rotated through
   * the API are refused instead.
   */
  allowShortSecrets?: boolean;
}

/** 400 for short supplied secrets, or the warnings when they are allowed. */
function checkSecretLengths(input: CredentialsInput, opts: PrepareOptions): string[] {
  const problems = shortSecretProblems(input);
  if (problems.length && !opts.allowShortSecrets) throw new CredentialsValidationError(problems.join('; '));
  return problems;
}

/** Validates (with ThingsBoard's rules) and hashes; throws a 400 that says what to fix. */
export async function prepareCredentials(
  req: CredentialsRequest,
  deviceName: string,
  opts: PrepareOptions = {},
): Promise<PreparedCredentials> {
  try {
    if (req.type === 'ACCESS_TOKEN') {
      if (req.clientId || req.username || req.password)
        throw new CredentialsValidationError(
          'ACCESS_TOKEN takes only "token"; use MQTT_BASIC for client id / username / password',
        );
      const generated = req.generate === true || !req.token;
      const token = generated ? generateSecret() : (req.token as string);
      validateCredentials({ type: 'ACCESS_TOKEN', token });
      const warnings = checkSecretLengths({ type: 'ACCESS_TOKEN', token }, opts);
      // The token is stored only as its look-up key (a sha256): nothing else to hash.
      const row = { type: req.type, credentialsId: credentialsKey({ type: req.type, token }) };
      return {
        row: { ...row, clientId: null, username: null, passwordHash: null },
        usernameLookup: token,
        ...(generated ? { issued: { type: 'ACCESS_TOKEN', token } } : {}),
        ...(warnings.length ? { warnings } : {}),
      };
    }
    if (req.token !== undefined)
      throw new CredentialsValidationError('MQTT_BASIC takes clientId / username / password, not "token"');
    let clientId = req.clientId || null;
    let username = req.username || null;
    let generatedIds = false;
    // Nothing but the type (or `generate`): a complete fresh set. A password without any
    // identifier is malformed and left for validateCredentials to reject.
    if (!clientId && !username && (req.generate === true || req.password === undefined || req.password === null)) {
      const fresh = generateCredentials('MQTT_BASIC', deviceName) as Extract<CredentialsInput, { type: 'MQTT_BASIC' }>;
      clientId = fresh.clientId ?? null;
      username = fresh.username ?? null;
      generatedIds = true;
    }
    const generatePassword = req.generate === true || req.password === undefined || generatedIds;
    const password = generatePassword ? generateSecret() : req.password || null;
    const input = { type: 'MQTT_BASIC' as const, clientId, username, password };
    validateCredentials(input);
    const warnings = checkSecretLengths(input, opts);
    // A dry run only needs the look-up key; scrypt costs ~10 ms of CPU per supplied password.
    const passwordHash = !password
      ? null
      : opts.hash === false
        ? 'not-hashed'
        : await hashSecret(password, generatePassword ? 'generated' : 'supplied');
    return {
      row: { type: 'MQTT_BASIC', credentialsId: credentialsKey(input), clientId, username, passwordHash },
      ...(username && !clientId ? { usernameLookup: username } : {}),
      ...(generatePassword || generatedIds ? { issued: { type: 'MQTT_BASIC', clientId, username, password } } : {}),
      ...(warnings.length ? { warnings } : {}),
    };
  } catch (err) {
    if (err instanceof CredentialsValidationError) throw new AppError('BAD_REQUEST', `credentials: ${err.message}`);
    throw err;
  }
}

/**
 * 409 when new credentials and another device's would shadow each other at CONNECT.
 * ThingsBoard's matching tries (client id, username) before the username alone, so a
 * password-less MQTT Basic pair (c, u) takes every connection that presents client id c
 * and username u — including those of a device whose access token (or username-only
 * credentials) is u, which then land on the password-less device. Refused both ways: a
 * password-less pair whose username is another device's "username alone" look-up, and an
 * access token / username-only credential equal to the username of another device's
 * password-less pair. The other device is named only when it is in the caller's scope.
 */
export async function assertNoShadowing(
  db: Pick<Prisma.TransactionClient, 'deviceCredentials'>,
  creds: PreparedCredentials,
  scope: Scope | null,
  exceptDeviceId?: string,
): Promise<void> {
  const { row } = creds;
  const where: Prisma.DeviceCredentialsWhereInput[] = [];
  if (row.type === 'MQTT_BASIC' && row.passwordHash === null && row.clientId && row.username)
    where.push({ credentialsId: accessTokenKey(row.username) });
  if (creds.usernameLookup)
    where.push({ type: 'MQTT_BASIC', passwordHash: null, clientId: { not: null }, username: creds.usernameLookup });
  if (!where.length) return;
  const other = await db.deviceCredentials.findFirst({
    where: { OR: where, ...(exceptDeviceId ? { deviceId: { not: exceptDeviceId } } : {}) },
    select: { device: { select: { name: true, region: true, customer: true } } },
  });
  if (!other) return;
  if (!inScope(scope, other.device)) throw new AppError('CONFLICT', HIDDEN_CONFLICT);
  throw new AppError(
    'CONFLICT',
    `credentials: would take over connections of device ${other.device.name} (a client id + username without a password matches before that device's access token or username); set a password or use another username`,
  );
}

export interface CredentialsView {
  type: 'ACCESS_TOKEN' | 'MQTT_BASIC';
  clientId: string | null;
  username: string | null;
  hasPassword: boolean;
  /** Present (true) when a client id and/or username exist but are not shown. */
  identifiersHidden?: true;
}

/**
 * Non-secret view of stored credentials (never the hash). MQTT Basic without a password is
 * secret-bearing: its client id / username pair is all a device needs to connect, so it is
 * never shown after creation, to anyone (like an access token).
 */
export function describeCredentials(row: CredentialsRow | null): CredentialsView | null {
  if (!row) return null;
  const view = {
    type: row.type,
    clientId: row.clientId,
    username: row.username,
    hasPassword: row.passwordHash !== null,
  };
  return isSecretBearing(view) ? withoutIdentifiers(view) : view;
}

/** A password-less MQTT Basic pair is the whole secret (ThingsBoard accepts any password then). */
export function isSecretBearing(c: Pick<CredentialsView, 'type' | 'hasPassword'>): boolean {
  return c.type === 'MQTT_BASIC' && !c.hasPassword;
}

/** The view without client id / username: what viewers get (the type and whether one exists). */
export function withoutIdentifiers(c: CredentialsView): CredentialsView {
  const hidden = c.identifiersHidden === true || c.clientId !== null || c.username !== null;
  return {
    type: c.type,
    clientId: null,
    username: null,
    hasPassword: c.hasPassword,
    ...(hidden ? { identifiersHidden: true as const } : {}),
  };
}

/**
 * A device view as `role` may see it: credential identifiers are for operators and admins
 * (a viewer who knew a device's client id / username could impersonate it wherever the
 * password is weak or absent).
 */
export function credentialsForRole<T extends { credentials: CredentialsView | null }>(
  view: T,
  role: 'admin' | 'operator' | 'viewer' | undefined,
): T {
  if (role !== 'viewer' || !view.credentials) return view;
  return { ...view, credentials: withoutIdentifiers(view.credentials) };
}

/**
 * Audit entries written before identifiers of password-less MQTT Basic were hidden still
 * hold them: hides them at read time in any `{type: 'MQTT_BASIC', hasPassword: false, …}`
 * object inside an entry's before/after.
 */
export function hideSecretIdentifiers(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 20) return value;
  if (Array.isArray(value)) return value.map((v) => hideSecretIdentifiers(v, depth + 1));
  const o = value as Record<string, unknown>;
  if (o.type === 'MQTT_BASIC' && o.hasPassword === false && ('clientId' in o || 'username' in o))
    return withoutIdentifiers(o as unknown as CredentialsView);
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, hideSecretIdentifiers(v, depth + 1)]));
}
