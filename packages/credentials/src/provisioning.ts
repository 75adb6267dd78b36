/**
 * ThingsBoard's device provisioning and claiming, as pure decisions
 * (docs/thingsboard-compatibility.md#provisioning-and-claiming). The broker (MQTT
 * `/provision/request`) and the API (`POST /api/v1/provision`) both parse with
 * `parseProvisionRequest`, decide with `decideProvision` and answer with what these build;
 * the database work is in @spms/device-auth's provision-store.ts.
 *
 * ThingsBoard's answers (its ProvisionServiceImpl): a key/secret that match no profile, or a
 * profile whose strategy is disabled → NOT_FOUND; `pre_provisioned` with a name that does
 * not exist in that profile → FAILURE; a name provisioned before (or, with `allow_create`,
 * any existing name) → FAILURE; anything malformed → FAILURE with what to fix.
 */
import {
  type CredentialsInput,
  CredentialsValidationError,
  shortSecretProblems,
  validateCredentials,
} from './matching.js';

export type ProvisionStrategy = 'allow_create' | 'pre_provisioned' | 'disabled';
export const PROVISION_STRATEGIES: readonly ProvisionStrategy[] = ['allow_create', 'pre_provisioned', 'disabled'];

/** Device names SPMS accepts (the operator API's rule). */
export const PROVISION_DEVICE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Operator-set provision keys and secrets (ThingsBoard generates 20 characters). */
export const MIN_PROVISION_KEY_LENGTH = 8;
export const MIN_PROVISION_SECRET_LENGTH = 16;
const MAX_FIELD = 256;
const PRINTABLE = /^[\x21-\x7e]+$/;

export interface ProvisionRequest {
  deviceName: string;
  provisionDeviceKey: string;
  provisionDeviceSecret: string;
  /** Credentials the device brings (null: SPMS generates an access token). */
  credentials: CredentialsInput | null;
}

export type ProvisionFailure = { status: 'NOT_FOUND' | 'FAILURE'; errorMsg: string };
export type ProvisionSuccess =
  | { status: 'SUCCESS'; credentialsType: 'ACCESS_TOKEN'; credentialsValue: string }
  | {
      status: 'SUCCESS';
      credentialsType: 'MQTT_BASIC';
      credentialsValue: { clientId: string | null; userName: string | null; password: string | null };
    };
export type ProvisionResponse = ProvisionSuccess | ProvisionFailure;

export const NOT_FOUND_MSG = 'Provision data was not found: check provisionDeviceKey and provisionDeviceSecret';

const failure = (errorMsg: string): ProvisionFailure => ({ status: 'FAILURE', errorMsg });

function str(body: Record<string, unknown>, key: string): string | undefined | null {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : null;
}

/**
 * A device's request → what to provision, or the FAILURE to answer. Field names are
 * ThingsBoard's: `deviceName`, `provisionDeviceKey`, `provisionDeviceSecret`, and optional
 * `credentialsType` with `token` (ACCESS_TOKEN) or `clientId` / `username` / `password`
 * (MQTT_BASIC). X509 certificates are not supported.
 */
export function parseProvisionRequest(
  body: unknown,
): { ok: true; request: ProvisionRequest } | { ok: false; response: ProvisionFailure } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, response: failure('provision request must be a JSON object') };
  const b = body as Record<string, unknown>;
  const fields: Record<string, string> = {};
  for (const key of ['deviceName', 'provisionDeviceKey', 'provisionDeviceSecret'] as const) {
    const v = str(b, key);
    if (v === null) return { ok: false, response: failure(`${key} must be a string`) };
    if (!v) return { ok: false, response: failure(`${key} is required`) };
    if (v.length > MAX_FIELD) return { ok: false, response: failure(`${key} is longer than ${MAX_FIELD} characters`) };
    fields[key] = v;
  }
  const deviceName = fields.deviceName as string;
  if (!PROVISION_DEVICE_NAME.test(deviceName))
    return {
      ok: false,
      response: failure('deviceName must be 1-64 characters: letters, digits, "_", "-" or "." (e.g. 0003_MSAN)'),
    };
  const type = str(b, 'credentialsType');
  let credentials: CredentialsInput | null = null;
  if (type === null) return { ok: false, response: failure('credentialsType must be a string') };
  if (type === 'ACCESS_TOKEN') {
    const token = str(b, 'token');
    if (typeof token !== 'string' || !token)
      return { ok: false, response: failure('credentialsType ACCESS_TOKEN needs "token"') };
    credentials = { type: 'ACCESS_TOKEN', token };
  } else if (type === 'MQTT_BASIC') {
    const clientId = str(b, 'clientId');
    const username = str(b, 'username');
    const password = str(b, 'password');
    if (clientId === null || username === null || password === null)
      return { ok: false, response: failure('clientId, username and password must be strings') };
    credentials = {
      type: 'MQTT_BASIC',
      clientId: clientId || null,
      username: username || null,
      password: password || null,
    };
  } else if (type === 'X509_CERTIFICATE') {
    return {
      ok: false,
      response: failure('credentialsType X509_CERTIFICATE is not supported: use ACCESS_TOKEN or MQTT_BASIC'),
    };
  } else if (type !== undefined && type !== '') {
    return {
      ok: false,
      response: failure(`credentialsType "${type.slice(0, 40)}" is not supported: use ACCESS_TOKEN or MQTT_BASIC`),
    };
  }
  return {
    ok: true,
    request: {
      deviceName,
      provisionDeviceKey: fields.provisionDeviceKey as string,
      provisionDeviceSecret: fields.provisionDeviceSecret as string,
      credentials,
    },
  };
}

/**
 * Why device-supplied credentials may not be used (null: they may): the rules for new
 * credentials (validateCredentials, minimum lengths), and MQTT Basic must have a password
 * (a password-less pair would be the whole secret, sent in clear at every CONNECT).
 */
export function deviceCredentialsProblem(creds: CredentialsInput): string | null {
  try {
    validateCredentials(creds);
  } catch (err) {
    if (err instanceof CredentialsValidationError) return err.message;
    throw err;
  }
  if (creds.type === 'MQTT_BASIC' && !creds.password)
    return 'MQTT_BASIC credentials need a password when a device supplies them';
  const short = shortSecretProblems(creds);
  return short.length ? (short[0] as string) : null;
}

export interface ProvisionProfile {
  id: string;
  strategy: ProvisionStrategy;
  /** Devices may bring their own credentials. */
  deviceCredentials: boolean;
}

export interface ExistingDevice {
  id: string;
  profileId: string;
  provisionedAt: Date | null;
  /** It has credentials (given by an operator, an import or an earlier provisioning). */
  hasCredentials: boolean;
  /** It has connected or reported before (its live state has a connect or an activity time). */
  everConnected: boolean;
}

/**
 * `pre_provisioned` provisions only a device still awaiting provisioning: registered in the
 * profile without credentials, never provisioned, never connected. Whoever holds the
 * profile's key and secret (they ship in every firmware image) can therefore not give new
 * credentials to a working device, nor to one whose credentials were revoked, and lock it out.
 */
export const NOT_AWAITING_MSG = 'The device is not awaiting provisioning: it has credentials or has connected before';

export type ProvisionDecision =
  | { action: 'create' }
  | { action: 'provision'; deviceId: string }
  | { action: 'refuse'; response: ProvisionFailure };

/**
 * What to do, given the profile whose key and secret matched (null: none did) and the device
 * already named `deviceName` (null: none).
 */
export function decideProvision(
  profile: ProvisionProfile | null,
  existing: ExistingDevice | null,
  request: ProvisionRequest,
): ProvisionDecision {
  if (!profile || profile.strategy === 'disabled')
    return { action: 'refuse', response: { status: 'NOT_FOUND', errorMsg: NOT_FOUND_MSG } };
  if (request.credentials) {
    if (!profile.deviceCredentials)
      return {
        action: 'refuse',
        response: failure('this profile does not accept device-supplied credentials: leave credentialsType out'),
      };
    const problem = deviceCredentialsProblem(request.credentials);
    if (problem) return { action: 'refuse', response: failure(`credentials: ${problem}`) };
  }
  if (profile.strategy === 'allow_create') {
    if (existing) return { action: 'refuse', response: failure('The device with this name is already provisioned') };
    return { action: 'create' };
  }
  // pre_provisioned: only names registered in this profile, once, and only while awaiting
  // provisioning (ThingsBoard: FAILURE otherwise; it has no awaiting rule, see NOT_AWAITING_MSG).
  if (!existing || existing.profileId !== profile.id)
    return { action: 'refuse', response: failure('No pre-provisioned device with this name in this profile') };
  if (existing.provisionedAt) return { action: 'refuse', response: failure('The device was already provisioned') };
  if (existing.hasCredentials || existing.everConnected)
    return { action: 'refuse', response: failure(NOT_AWAITING_MSG) };
  return { action: 'provision', deviceId: existing.id };
}

/** ThingsBoard's SUCCESS answer for the credentials the device must now use. */
export function provisionSuccess(creds: CredentialsInput): ProvisionSuccess {
  if (creds.type === 'ACCESS_TOKEN')
    return { status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: creds.token };
  return {
    status: 'SUCCESS',
    credentialsType: 'MQTT_BASIC',
    credentialsValue: {
      clientId: creds.clientId ?? null,
      userName: creds.username ?? null,
      password: creds.password ?? null,
    },
  };
}

/** Problems of an operator-set provision key / secret (empty: fine). */
export function provisionSettingProblems(key: string | undefined, secret: string | undefined): string[] {
  const problems: string[] = [];
  const check = (name: string, v: string | undefined, min: number) => {
    if (v === undefined) return;
    if (v.length > MAX_FIELD) problems.push(`${name} is longer than ${MAX_FIELD} characters`);
    else if (!PRINTABLE.test(v)) problems.push(`${name} may contain only printable ASCII characters, without spaces`);
    else if (v.length < min) problems.push(`${name} is too short: use at least ${min} characters`);
  };
  check('provisioning.key', key, MIN_PROVISION_KEY_LENGTH);
  check('provisioning.secret', secret, MIN_PROVISION_SECRET_LENGTH);
  return problems;
}

/** ThingsBoard's default claiming window (device.claim.duration). */
export const DEFAULT_CLAIM_DURATION_MS = 86_400_000;
/** Longest claiming window a device may ask for. */
export const MAX_CLAIM_DURATION_MS = 7 * 86_400_000;

export interface ClaimRequest {
  secretKey: string;
  durationMs: number;
}

/**
 * `v1/devices/me/claim` `{"secretKey","durationMs"}`: both optional in ThingsBoard (an empty
 * secret, the server's default duration). An empty secret is refused here: anyone could
 * claim the device.
 */
export function parseClaimRequest(body: unknown): { ok: true; request: ClaimRequest } | { ok: false; error: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, error: 'claim request must be a JSON object' };
  const b = body as Record<string, unknown>;
  const secretKey = b.secretKey;
  if (typeof secretKey !== 'string' || secretKey === '')
    return { ok: false, error: 'claim request needs a non-empty "secretKey"' };
  if (secretKey.length > MAX_FIELD) return { ok: false, error: `secretKey is longer than ${MAX_FIELD} characters` };
  let durationMs = DEFAULT_CLAIM_DURATION_MS;
  if (b.durationMs !== undefined && b.durationMs !== null) {
    const d = Number(b.durationMs);
    if (!Number.isSafeInteger(d) || d <= 0) return { ok: false, error: 'durationMs must be a positive integer' };
    durationMs = Math.min(d, MAX_CLAIM_DURATION_MS);
  }
  return { ok: true, request: { secretKey, durationMs } };
}
