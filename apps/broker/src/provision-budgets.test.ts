/**
 * Provisioning budgets of the MQTT `provision` session, against a real gateway, database and
 * Redis: whoever holds the right provision key and secret (they ship in every device's
 * firmware) gets FAILURE past the profile's device creations a minute and past the address's
 * provisioning requests a minute, with nothing created or audited beyond.
 */
import { hashSecret } from '@spms/credentials';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './test-support/harness.js';
import { provisionOverMqtt } from './test-support/provisioning.js';

let h: Harness;
const KEY = { provisionDeviceKey: 'budget-key-0001', provisionDeviceSecret: 'budget-secret-0123456789' };

beforeAll(async () => {
  h = await startHarness('broker_provision_budget', {
    PROVISION_REQUESTS_PER_IP_PER_MIN: '6',
    PROVISION_CREATES_PER_PROFILE_PER_MIN: '2',
  });
  await h.sql.query(
    `INSERT INTO device_profiles (id, name, updated_at, provision_strategy, provision_key, provision_secret_hash)
     VALUES (gen_random_uuid(), 'budget', now(), 'allow_create', $1, $2)`,
    [KEY.provisionDeviceKey, await hashSecret(KEY.provisionDeviceSecret, 'supplied')],
  );
});
afterAll(() => h?.close());

const count = async (sql: string) => (await h.sql.query(sql)).rows[0].n as number;
const refusals = async (reason: string) => {
  const text = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`spms_broker_refusals_total{reason="${reason}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
};

describe('MQTT provisioning budgets', () => {
  it('creates 2 devices a minute per profile, then FAILURE; past 6 requests a minute the address gets FAILURE', async () => {
    const created = [];
    for (let i = 0; i < 3; i++) created.push(await provisionOverMqtt(h, { deviceName: `MQ_BUDGET_${i}`, ...KEY }));
    expect(created.map((a) => a.status)).toEqual(['SUCCESS', 'SUCCESS', 'FAILURE']);
    expect(created[2]).toEqual({
      status: 'FAILURE',
      errorMsg: 'too many devices created in this profile; retry later',
    });
    expect(await count(`SELECT count(*)::int AS n FROM devices WHERE name LIKE 'MQ_BUDGET_%'`)).toBe(2);

    // Requests 4 to 6: an existing name, refused and audited as before.
    for (let i = 0; i < 3; i++)
      expect(await provisionOverMqtt(h, { deviceName: 'MQ_BUDGET_0', ...KEY })).toMatchObject({
        status: 'FAILURE',
        errorMsg: 'The device with this name is already provisioned',
      });
    // The 7th and after: the address's budget, nothing more audited.
    for (let i = 0; i < 3; i++)
      expect(await provisionOverMqtt(h, { deviceName: 'MQ_BUDGET_0', ...KEY })).toEqual({
        status: 'FAILURE',
        errorMsg: 'too many provisioning requests from this address; retry later',
      });
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.provision.refused'`)).toBe(3);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.provision'`)).toBe(2);
    expect(await refusals('provision_create_rate')).toBe(1);
    expect(await refusals('provision_address_rate')).toBe(3);
  });
});
