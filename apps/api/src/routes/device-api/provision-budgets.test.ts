/**
 * Provisioning budgets of POST /api/v1/provision, over real HTTP against a real database and
 * Redis: the provision key and secret ship in every device's firmware, so a holder of the right
 * ones is limited per source address (every request) and per profile (devices created).
 * Addresses are set with X-Forwarded-For (TRUST_PROXY names the loopback test client).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApi, TEST_ADMIN_KEY, type TestApi } from '../../test-support/test-api.js';

let t: TestApi;
let base: string;
const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' };
const KEY = { provisionDeviceKey: 'budget-create-key', provisionDeviceSecret: 'budget-create-secret-0123' };

beforeAll(async () => {
  t = await createTestApi('provision_budget', {
    TRUST_PROXY: 'loopback',
    PROVISION_REQUESTS_PER_IP_PER_MIN: '4',
    PROVISION_CREATES_PER_PROFILE_PER_MIN: '3',
  });
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  const created = await fetch(`${base}/api/profiles`, {
    method: 'POST',
    headers: admin,
    body: JSON.stringify({ name: 'budget' }),
  });
  expect(created.status).toBe(201);
  const patched = await fetch(`${base}/api/profiles/budget`, {
    method: 'PATCH',
    headers: admin,
    body: JSON.stringify({
      provisioning: { strategy: 'allow_create', key: KEY.provisionDeviceKey, secret: KEY.provisionDeviceSecret },
    }),
  });
  expect(patched.status).toBe(200);
});
afterAll(() => t?.close());

async function provision(deviceName: string, ip: string) {
  const res = await fetch(`${base}/api/v1/provision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
    body: JSON.stringify({ deviceName, ...KEY }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}
const count = async (sql: string) => (await t.app.pg.query(sql)).rows[0].n as number;

describe('provisioning budgets', () => {
  it('an address repeating an existing name: 4 requests a minute, then 429 with Retry-After; no more audit rows', async () => {
    expect((await provision('BUDGET_TAKEN', '203.0.113.1')).body.status).toBe('SUCCESS');
    for (let i = 0; i < 3; i++)
      expect(await provision('BUDGET_TAKEN', '203.0.113.1')).toMatchObject({
        status: 200,
        body: { status: 'FAILURE', errorMsg: 'The device with this name is already provisioned' },
      });
    const over = await provision('BUDGET_TAKEN', '203.0.113.1');
    expect(over.status).toBe(429);
    expect(Number(over.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(over.body).toEqual({
      status: 'FAILURE',
      errorMsg: expect.stringMatching(/^too many provisioning requests from this address; retry in \d+ s$/),
    });
    for (let i = 0; i < 5; i++) expect((await provision('BUDGET_TAKEN', '203.0.113.1')).status).toBe(429);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.provision.refused'`)).toBe(3);
    // Another address has its own budget.
    expect((await provision('BUDGET_TAKEN', '203.0.113.2')).status).toBe(200);
  });

  it('random names from many addresses: the profile creates 3 a minute, then 429; nothing more created or audited', async () => {
    // The first test created one device already: two more fit in the profile's budget.
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await provision(`BUDGET_NEW_${i}`, `198.51.100.${i + 1}`));
    expect(answers.slice(0, 2).map((a) => a.body.status)).toEqual(['SUCCESS', 'SUCCESS']);
    for (const a of answers.slice(2)) {
      expect(a.status).toBe(429);
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(a.body).toEqual({
        status: 'FAILURE',
        errorMsg: expect.stringMatching(/^too many devices created in this profile; retry in \d+ s$/),
      });
    }
    expect(await count(`SELECT count(*)::int AS n FROM devices WHERE name LIKE 'BUDGET_%'`)).toBe(3);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.provision'`)).toBe(3);
    expect(await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'device.provision.refused'`)).toBe(4);
    const metrics = await t.app.metrics.registry.getSingleMetricAsString('spms_api_provision_refusals_total');
    expect(metrics).toMatch(/spms_api_provision_refusals_total\{budget="address"\} 6/);
    expect(metrics).toMatch(/spms_api_provision_refusals_total\{budget="profile_creates"\} 4/);
  });
});
