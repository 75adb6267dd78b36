/**
 * ThingsBoard's MQTT provisioning (`provision` session, /provision/request → /provision/response)
 * and claiming (v1/devices/me/claim) against a real gateway and database, over real sockets.
 */
import { hashSecret, verifySecret } from '@spms/credentials';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, until } from './test-support/harness.js';
import { provisionOverMqtt } from './test-support/provisioning.js';

let h: Harness;
const HARNESS_PROFILE = '00000000-0000-4000-8000-0000000000b1';
const CREATE = { key: 'create-key-0001', secret: 'create-secret-0123456789' };
const PRE = { key: 'pre-key-0001', secret: 'pre-secret-0123456789' };
const OFF = { key: 'off-key-0001', secret: 'off-secret-0123456789' };

beforeAll(async () => {
  // A small failed-auth budget so the wrong-secret test reaches it (that test runs last).
  h = await startHarness('broker_provision', { AUTH_FAILURES_PER_IP: '3' });
  await h.sql.query(
    `INSERT INTO device_profiles (id, name, updated_at, provision_strategy, provision_key, provision_secret_hash,
                                  provision_region, provision_customer)
     VALUES (gen_random_uuid(), 'auto', now(), 'allow_create', $1, $2, 'Western', 'Acme')`,
    [CREATE.key, await hashSecret(CREATE.secret, 'supplied')],
  );
  await h.sql.query(
    `INSERT INTO device_profiles (id, name, updated_at, provision_strategy, provision_key, provision_secret_hash)
     VALUES (gen_random_uuid(), 'off', now(), 'disabled', $1, $2)`,
    [OFF.key, await hashSecret(OFF.secret, 'supplied')],
  );
  await h.sql.query(
    `UPDATE device_profiles SET provision_strategy = 'pre_provisioned', provision_key = $2, provision_secret_hash = $3
      WHERE id = $1`,
    [HARNESS_PROFILE, PRE.key, await hashSecret(PRE.secret, 'supplied')],
  );
});
afterAll(() => h?.close());

const provision = (body: Record<string, unknown> | string) => provisionOverMqtt(h, body);

const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()));

describe('MQTT provisioning', () => {
  it('allow_create: creates the device, which then connects with the credentials and sends telemetry', async () => {
    const answer = await provision({
      deviceName: 'PROV_0001',
      provisionDeviceKey: CREATE.key,
      provisionDeviceSecret: CREATE.secret,
    });
    expect(answer).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    const token = answer.credentialsValue as string;
    expect(token.length).toBeGreaterThanOrEqual(20);
    const { rows } = await h.sql.query(
      `SELECT d.id, d.region, d.customer, d.provisioned_at, p.name AS profile,
              (SELECT count(*)::int FROM device_lines l WHERE l.device_id = d.id) AS lines
         FROM devices d JOIN device_profiles p ON p.id = d.profile_id WHERE d.name = 'PROV_0001'`,
    );
    expect(rows[0]).toMatchObject({ region: 'Western', customer: 'Acme', profile: 'auto', lines: 8 });
    expect(rows[0].provisioned_at).not.toBeNull();
    const audit = await h.sql.query(`SELECT action, ip, after FROM audit_log WHERE entity_id = $1`, [rows[0].id]);
    expect(audit.rows[0]).toMatchObject({ action: 'device.provision', after: { transport: 'mqtt', created: true } });
    expect(JSON.stringify(audit.rows[0])).not.toContain(token);

    const mark = await h.mark();
    const device = await h.connect({ clientId: 'prov-0001', username: token });
    await device.publishAsync('v1/devices/me/telemetry', "{'3':'false'}", { qos: 1 });
    const sent = (await mark()).filter((m) => m.kind === 'telemetry');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.deviceId).toBe(rows[0].id);

    // The same name again: FAILURE (ThingsBoard: already provisioned).
    const again = await provision({
      deviceName: 'PROV_0001',
      provisionDeviceKey: CREATE.key,
      provisionDeviceSecret: CREATE.secret,
    });
    expect(again).toMatchObject({ status: 'FAILURE' });
  });

  it('pre_provisioned: unknown name FAILURE (as ThingsBoard), a registered name once, then FAILURE', async () => {
    const req = { provisionDeviceKey: PRE.key, provisionDeviceSecret: PRE.secret };
    expect(await provision({ ...req, deviceName: 'NOT_REGISTERED' })).toEqual({
      status: 'FAILURE',
      errorMsg: 'No pre-provisioned device with this name in this profile',
    });
    const { rowCount } = await h.sql.query(`SELECT 1 FROM devices WHERE name = 'NOT_REGISTERED'`);
    expect(rowCount).toBe(0);
    // Registered without credentials: awaiting provisioning.
    const { rows: registered } = await h.sql.query<{ id: string }>(
      `INSERT INTO devices (id, name, profile_id, updated_at) VALUES (gen_random_uuid(), 'PRE_0001', $1, now()) RETURNING id`,
      [HARNESS_PROFILE],
    );
    const id = registered[0]?.id as string;
    // Every process is told, as for any credentials change (nothing may stay cached for it).
    const changed = await h.listenCredentialsChanged();
    const first = await provision({ ...req, deviceName: 'PRE_0001' });
    expect(first).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    await until(() => changed.ids.includes(id));
    await changed.close();
    const device = await h.connect({ clientId: 'pre-0001', username: first.credentialsValue as string });
    expect(device.connected).toBe(true);
    const second = await provision({ ...req, deviceName: 'PRE_0001' });
    expect(second).toEqual({ status: 'FAILURE', errorMsg: 'The device was already provisioned' });
    const row = await h.sql.query('SELECT provisioned_at FROM devices WHERE id = $1', [id]);
    expect(row.rows[0].provisioned_at).not.toBeNull();
    const audit = await h.sql.query(
      `SELECT action, after->>'status' AS status FROM audit_log WHERE entity_id = $1 ORDER BY id`,
      [id],
    );
    expect(audit.rows).toEqual([
      { action: 'device.provision', status: null },
      { action: 'device.provision.refused', status: 'FAILURE' },
    ]);
  });

  it('pre_provisioned: a working device (credentials, or revoked ones after it connected) is not taken over', async () => {
    const req = { provisionDeviceKey: PRE.key, provisionDeviceSecret: PRE.secret };
    const notAwaiting = {
      status: 'FAILURE',
      errorMsg: 'The device is not awaiting provisioning: it has credentials or has connected before',
    };
    // Registered with credentials (operator API or an import) and connected: refused, still connected.
    const live = await h.addDevice('PRE_LIVE', { type: 'ACCESS_TOKEN', token: 'live-token-pre-0001-xxxx' });
    const device = await h.connect({ clientId: 'pre-live', username: 'live-token-pre-0001-xxxx' });
    expect(await provision({ ...req, deviceName: 'PRE_LIVE' })).toEqual(notAwaiting);
    await new Promise((r) => setTimeout(r, 1500)); // past the credentials-change poll
    expect(device.connected).toBe(true);
    const again = await h.connect({ clientId: 'pre-live-2', username: 'live-token-pre-0001-xxxx' });
    expect(again.connected).toBe(true);
    // Its credentials revoked after it had connected (its live state says so): refused too.
    const revoked = await h.addDevice('PRE_REVOKED', { type: 'ACCESS_TOKEN', token: 'revoked-token-pre-0001-x' });
    await h.sql.query('DELETE FROM device_credentials WHERE device_id = $1', [revoked]);
    await h.sql.query(
      `INSERT INTO device_state (device_id, connection, last_connect_at) VALUES ($1, 'disconnected', now() - interval '1 day')`,
      [revoked],
    );
    expect(await provision({ ...req, deviceName: 'PRE_REVOKED' })).toEqual(notAwaiting);
    const { rows } = await h.sql.query(
      'SELECT count(*)::int AS n FROM devices WHERE id = ANY($1) AND provisioned_at IS NOT NULL',
      [[live, revoked]],
    );
    expect(rows[0].n).toBe(0);
  });

  it('disabled: NOT_FOUND', async () => {
    expect(
      await provision({ deviceName: 'OFF_0001', provisionDeviceKey: OFF.key, provisionDeviceSecret: OFF.secret }),
    ).toMatchObject({ status: 'NOT_FOUND', errorMsg: expect.stringMatching(/not found/) });
  });

  it('device-supplied MQTT_BASIC credentials: accepted when strong, refused when weak; X509 refused', async () => {
    const base = { provisionDeviceKey: CREATE.key, provisionDeviceSecret: CREATE.secret };
    const creds = {
      credentialsType: 'MQTT_BASIC',
      clientId: 'prov-basic-1',
      username: 'prov-basic-u',
      password: 'a-long-password-1',
    };
    const ok = await provision({ ...base, deviceName: 'PROV_BASIC_1', ...creds });
    expect(ok).toEqual({
      status: 'SUCCESS',
      credentialsType: 'MQTT_BASIC',
      credentialsValue: { clientId: 'prov-basic-1', userName: 'prov-basic-u', password: 'a-long-password-1' },
    });
    const device = await h.connect({
      clientId: 'prov-basic-1',
      username: 'prov-basic-u',
      password: 'a-long-password-1',
    });
    expect(device.connected).toBe(true);
    const stored = await h.sql.query(
      `SELECT c.password_hash FROM device_credentials c JOIN devices d ON d.id = c.device_id WHERE d.name = 'PROV_BASIC_1'`,
    );
    expect(stored.rows[0].password_hash).toMatch(/^scrypt\$/);

    const weak = await provision({ ...base, deviceName: 'PROV_BASIC_2', ...creds, clientId: 'c2', password: 'short' });
    expect(weak).toMatchObject({
      status: 'FAILURE',
      errorMsg: expect.stringMatching(/^credentials: password is too short/),
    });
    const x509 = await provision({ ...base, deviceName: 'PROV_X509', credentialsType: 'X509_CERTIFICATE', hash: 'x' });
    expect(x509).toMatchObject({
      status: 'FAILURE',
      errorMsg: expect.stringMatching(/X509_CERTIFICATE is not supported/),
    });
    const { rowCount } = await h.sql.query(`SELECT 1 FROM devices WHERE name IN ('PROV_BASIC_2', 'PROV_X509')`);
    expect(rowCount).toBe(0);
    expect(await provision('not json at all {')).toMatchObject({ status: 'FAILURE' });
  });

  it('a provisioning session may not subscribe or publish to anything else', async () => {
    const c = await h.connect({ clientId: 'prov-snoop', username: 'provision' });
    // MQTT.js rejects a SUBACK holding 0x80 and hands over the packet with the error.
    const suback = await c.subscribeAsync(['#', 'v1/devices/me/rpc/request/+', '/provision/response']).then(
      () => null,
      (err: { packet?: { granted: number[] } }) => err.packet,
    );
    expect(suback?.granted).toEqual([128, 128, 0]);
    const gone = closed(c);
    c.publish('v1/devices/me/telemetry', '{"a":1}', { qos: 1 });
    await gone;
    const { rowCount } = await h.sql.query(`SELECT 1 FROM devices WHERE name = 'provision'`);
    expect(rowCount).toBe(0);
  });
});

describe('MQTT claiming', () => {
  it('records the claim request with its secret hashed and an expiry', async () => {
    const id = await h.addDevice('CLAIM_0001', { type: 'ACCESS_TOKEN', token: 'claim-token-0001-xxxxx' });
    const c = await h.connect({ clientId: 'claim-0001', username: 'claim-token-0001-xxxxx' });
    await c.publishAsync('v1/devices/me/claim', JSON.stringify({ secretKey: 'claim-me-123', durationMs: 60000 }), {
      qos: 1,
    });
    await until(
      async () => (await h.sql.query('SELECT 1 FROM device_claims WHERE device_id = $1', [id])).rowCount === 1,
    );
    const { rows } = await h.sql.query(
      "SELECT secret_hash, expires_at > now() AS pending, expires_at <= now() + interval '61 seconds' AS bounded FROM device_claims WHERE device_id = $1",
      [id],
    );
    expect(rows[0]).toMatchObject({ pending: true, bounded: true });
    expect(rows[0].secret_hash).not.toContain('claim-me-123');
    expect(await verifySecret('claim-me-123', rows[0].secret_hash)).toBe(true);
    // Without a secret: nothing recorded (anyone could claim it), the session stays up.
    await c.publishAsync('v1/devices/me/claim', '{}', { qos: 1 });
    expect(c.connected).toBe(true);
  });
});

// Last: spends the address's failed-auth budget.
describe('wrong provision secret', () => {
  it('answers NOT_FOUND and counts toward the failed-auth budget of the address', async () => {
    const bad = { deviceName: 'BRUTE_0001', provisionDeviceKey: CREATE.key, provisionDeviceSecret: 'guess-0000000000' };
    for (let i = 0; i < 3; i++) expect(await provision(bad)).toMatchObject({ status: 'NOT_FOUND' });
    const refused = await h.connect({ clientId: 'prov-after-brute', username: 'provision' }).then(
      () => 0,
      (err: { code?: number }) => err.code,
    );
    expect(refused).toBe(3);
    const { rowCount } = await h.sql.query(`SELECT 1 FROM devices WHERE name = 'BRUTE_0001'`);
    expect(rowCount).toBe(0);
  });
});
