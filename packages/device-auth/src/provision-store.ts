/**
 * The database side of device provisioning and claiming, shared by the broker (MQTT
 * `/provision/request`, `v1/devices/me/claim`) and the API (`POST /api/v1/provision`); the
 * decisions are @spms/credentials' provisioning.ts. One transaction per provisioning: the
 * device (with its 8 lines), its credentials, `provisioned_at` and the audit entry commit
 * together or not at all. Secrets: the profile's provision secret and a claim's secret are
 * stored as scrypt hashes; device-supplied passwords as scrypt, generated tokens as their
 * sha256 look-up key only (packages/credentials/src/matching.ts).
 */
import {
  type ClaimRequest,
  type CredentialsInput,
  credentialsKey,
  decideProvision,
  generateSecret,
  hashSecret,
  NOT_AWAITING_MSG,
  type ProvisionRequest,
  type ProvisionResponse,
  type ProvisionStrategy,
  provisionSuccess,
  verifySecret,
} from '@spms/credentials';
import { type Pool, Rollback, withTransaction } from '@spms/db';
import { refreshFirmwareTargets } from '@spms/firmware';

const LINE_LABELS = ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'];

export interface ProvisionOrigin {
  ip: string;
  transport: 'mqtt' | 'http';
}

/**
 * Budgets of provisioning, in Redis under `${REDIS_PREFIX}:throttle:` + these prefixes + the
 * address or profile id: the broker's and the API's use the same keys (and, given the same
 * settings, the same rate), so MQTT and HTTP spend one budget.
 */
export const PROVISION_ADDRESS_BUCKET = 'provision:ip:';
export const PROVISION_CREATE_BUCKET = 'provision:create:';

/** A budget's answer (how long until the next request may pass when refused). */
export interface BudgetVerdict {
  allowed: boolean;
  retryAfterMs: number;
}

export interface ProvisionOptions {
  /**
   * Spends one of the profile's device creations; asked only once the key and secret matched
   * an `allow_create` profile and the name is new. Refused: FAILURE, nothing created, nothing
   * audited (an audit row per refusal would be what the budget is there to stop).
   */
  takeCreation?: (profileId: string) => Promise<BudgetVerdict>;
}

export interface ProvisionOutcome {
  response: ProvisionResponse;
  /** The key/secret matched no profile: count it toward the address's failure budget. */
  badSecret: boolean;
  /** The profile's creation budget was spent: answer FAILURE (HTTP: 429 with Retry-After). */
  rateLimited?: { retryAfterMs: number };
  /** Set when a device was created or provisioned. */
  deviceId?: string;
  /**
   * An existing (pre-provisioned) device got credentials: announce it like any credentials
   * change (announceCredentialsChange), so no process keeps a stale entry or session for it.
   */
  credentialsReplaced?: boolean;
}

interface ProfileRow {
  id: string;
  name: string;
  provision_strategy: ProvisionStrategy;
  provision_secret_hash: string | null;
  provision_device_credentials: boolean;
  provision_region: string | null;
  provision_customer: string | null;
}

const failure = (errorMsg: string): ProvisionResponse => ({ status: 'FAILURE', errorMsg });

/** Of device `d`: it has credentials / it has connected or reported (its live state says so). */
const HAS_CREDENTIALS = 'EXISTS (SELECT 1 FROM device_credentials c WHERE c.device_id = d.id)';
const EVER_CONNECTED = `EXISTS (SELECT 1 FROM device_state s WHERE s.device_id = d.id
  AND (s.last_connect_at IS NOT NULL OR s.last_activity_at IS NOT NULL))`;

/** Validated request → ThingsBoard's answer, after doing what it says. */
export async function provisionDevice(
  pool: Pool,
  request: ProvisionRequest,
  origin: ProvisionOrigin,
  options: ProvisionOptions = {},
): Promise<ProvisionOutcome> {
  const { rows: profiles } = await pool.query<ProfileRow>(
    `SELECT id, name, provision_strategy, provision_secret_hash, provision_device_credentials,
            provision_region, provision_customer
       FROM device_profiles WHERE provision_key = $1`,
    [request.provisionDeviceKey],
  );
  const found = profiles[0];
  const matched =
    found?.provision_secret_hash != null &&
    (await verifySecret(request.provisionDeviceSecret, found.provision_secret_hash));
  const profile = matched && found ? found : null;
  const { rows: devices } = profile
    ? await pool.query<{
        id: string;
        profile_id: string;
        provisioned_at: Date | null;
        has_credentials: boolean;
        ever_connected: boolean;
      }>(
        `SELECT d.id, d.profile_id, d.provisioned_at, ${HAS_CREDENTIALS} AS has_credentials,
                 ${EVER_CONNECTED} AS ever_connected
            FROM devices d WHERE d.name = $1`,
        [request.deviceName],
      )
    : { rows: [] };
  const existing = devices[0];
  const decision = decideProvision(
    profile
      ? {
          id: profile.id,
          strategy: profile.provision_strategy,
          deviceCredentials: profile.provision_device_credentials,
        }
      : null,
    existing
      ? {
          id: existing.id,
          profileId: existing.profile_id,
          provisionedAt: existing.provisioned_at,
          hasCredentials: existing.has_credentials,
          everConnected: existing.ever_connected,
        }
      : null,
    request,
  );
  if (decision.action === 'refuse' || !profile) {
    const response = decision.action === 'refuse' ? decision.response : failure('provisioning refused');
    // Refusals of a request that held the profile's key and secret are audited (ThingsBoard's
    // PROVISION_FAILURE); guesses are not (they are counted and logged, and must not fill the log).
    if (profile && response.status !== 'SUCCESS')
      await pool.query(
        `INSERT INTO audit_log (principal_kind, principal_id, action, entity_type, entity_id, after, ip)
         VALUES ('device', $1, 'device.provision.refused', 'device', $2, $3::jsonb, $4)`,
        [
          `provision:${profile.name}`,
          existing?.id ?? null,
          JSON.stringify({
            name: request.deviceName,
            transport: origin.transport,
            status: response.status,
            errorMsg: response.errorMsg,
          }),
          origin.ip,
        ],
      );
    return { response, badSecret: !profile };
  }
  if (decision.action === 'create' && options.takeCreation) {
    const budget = await options.takeCreation(profile.id);
    if (!budget.allowed)
      return {
        response: failure(
          `too many devices created in this profile; retry in ${Math.max(1, Math.ceil(budget.retryAfterMs / 1000))} s`,
        ),
        badSecret: false,
        rateLimited: { retryAfterMs: budget.retryAfterMs },
      };
  }

  const creds: CredentialsInput = request.credentials ?? { type: 'ACCESS_TOKEN', token: generateSecret() };
  const basic = creds.type === 'MQTT_BASIC' ? creds : null;
  // Supplied passwords as scrypt (they may be guessable); hashed before the transaction.
  const passwordHash = basic?.password ? await hashSecret(basic.password, 'supplied') : null;
  const credentialsId = credentialsKey(creds);
  const usernameLookup =
    creds.type === 'ACCESS_TOKEN' ? creds.token : basic?.clientId ? null : (basic?.username ?? null);

  return withTransaction(pool, async (client) => {
    // ThingsBoard's matching tries (client id, username) before the username alone: a
    // password-less pair of another device with this username would take these connections.
    if (usernameLookup) {
      const shadow = await client.query(
        `SELECT 1 FROM device_credentials
          WHERE type = 'MQTT_BASIC' AND password_hash IS NULL AND client_id IS NOT NULL AND username = $1 LIMIT 1`,
        [usernameLookup],
      );
      if (shadow.rowCount) {
        throw new Rollback({
          response: failure('credentials: already used by another device; use others'),
          badSecret: false,
        });
      }
    }
    let deviceId: string;
    if (decision.action === 'create') {
      const created = await client.query<{ id: string }>(
        `INSERT INTO devices (id, name, region, customer, profile_id, provisioned_at, updated_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, now(), now())
         ON CONFLICT (name) DO NOTHING RETURNING id`,
        [request.deviceName, profile.provision_region, profile.provision_customer, profile.id],
      );
      const row = created.rows[0];
      if (!row) {
        throw new Rollback({ response: failure('The device with this name is already provisioned'), badSecret: false });
      }
      deviceId = row.id;
      await client.query(
        `INSERT INTO device_lines (device_id, number, label)
         SELECT $1, n, ($2::text[])[n] FROM generate_series(1, 8) AS n`,
        [deviceId, LINE_LABELS],
      );
      // Its profile's firmware, as the fw_* shared attributes it reads once connected.
      await refreshFirmwareTargets(client, [deviceId]);
    } else {
      // Once, and only while it still awaits provisioning (decideProvision's rule, checked again
      // under the row lock): a concurrent provisioning finds provisioned_at set.
      const marked = await client.query(
        `UPDATE devices d SET provisioned_at = now(), updated_at = now()
          WHERE d.id = $1 AND d.provisioned_at IS NULL AND NOT ${HAS_CREDENTIALS} AND NOT ${EVER_CONNECTED}`,
        [decision.deviceId],
      );
      if (!marked.rowCount) {
        throw new Rollback({ response: failure(NOT_AWAITING_MSG), badSecret: false });
      }
      deviceId = decision.deviceId;
    }
    // Never replaces credentials: a device that got some meanwhile (an operator) keeps them.
    const inserted = await client
      .query(
        `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
       VALUES ($1, $2::"CredentialsType", $3, $4, $5, $6, now())`,
        [deviceId, creds.type, credentialsId, basic?.clientId ?? null, basic?.username ?? null, passwordHash],
      )
      .catch((err: { code?: string; constraint?: string }) => {
        if (err.code === '23505') return err.constraint ?? 'unique';
        throw err;
      });
    if (typeof inserted === 'string') {
      throw new Rollback({
        response: failure(
          inserted === 'device_credentials_pkey'
            ? NOT_AWAITING_MSG
            : 'credentials: already used by another device; use others',
        ),
        badSecret: false,
      });
    }
    await client.query(
      `INSERT INTO audit_log (principal_kind, principal_id, action, entity_type, entity_id, after, ip)
       VALUES ('device', $1, 'device.provision', 'device', $2, $3::jsonb, $4)`,
      [
        `provision:${profile.name}`,
        deviceId,
        JSON.stringify({
          name: request.deviceName,
          profile: profile.name,
          strategy: profile.provision_strategy,
          transport: origin.transport,
          credentialsType: creds.type,
          credentialsSupplied: request.credentials !== null,
          created: decision.action === 'create',
        }),
        origin.ip,
      ],
    );
    return {
      response: provisionSuccess(creds),
      badSecret: false,
      deviceId,
      credentialsReplaced: decision.action === 'provision',
    };
  });
}

/**
 * A device's claim request: its secret (scrypt) and expiry replace any earlier one. An
 * operator claims the device with the secret until then (apps/api, devices/claim).
 */
export async function recordClaim(pool: Pool, deviceId: string, claim: ClaimRequest): Promise<void> {
  const hash = await hashSecret(claim.secretKey, 'supplied');
  await pool.query(
    `INSERT INTO device_claims (device_id, secret_hash, expires_at, created_at)
     VALUES ($1, $2, now() + make_interval(secs => $3::double precision / 1000), now())
     ON CONFLICT (device_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, expires_at = EXCLUDED.expires_at,
       created_at = EXCLUDED.created_at`,
    [deviceId, hash, claim.durationMs],
  );
}
