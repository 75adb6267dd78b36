/**
 * Turns an operator's credentials request into what the registry stores. Supplied
 * credentials are kept as the firmware has them (moving a device must not need a
 * re-flash); missing secrets are generated and returned once as `issued`.
 */
import {
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
import { AppError } from '../plugins/errors.js';

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
      ...(generatePassword || generatedIds ? { issued: { type: 'MQTT_BASIC', clientId, username, password } } : {}),
      ...(warnings.length ? { warnings } : {}),
    };
  } catch (err) {
    if (err instanceof CredentialsValidationError) throw new AppError('BAD_REQUEST', `credentials: ${err.message}`);
    throw err;
  }
}

/** 409 when another device already authenticates with the same look-up key. */
export async function assertCredentialsFree(
  db: Prisma.TransactionClient,
  credentialsId: string,
  exceptDeviceId?: string,
): Promise<void> {
  const other = await db.deviceCredentials.findUnique({
    where: { credentialsId },
    select: { deviceId: true, device: { select: { name: true } } },
  });
  if (other && other.deviceId !== exceptDeviceId)
    throw new AppError(
      'CONFLICT',
      `credentials: already used by device ${other.device.name}; every device needs its own client id / username / token`,
    );
}

/** Non-secret view of stored credentials (never the hash). */
export function describeCredentials(row: CredentialsRow | null) {
  if (!row) return null;
  return { type: row.type, clientId: row.clientId, username: row.username, hasPassword: row.passwordHash !== null };
}
