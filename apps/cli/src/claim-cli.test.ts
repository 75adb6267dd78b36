/**
 * spms devices claim … in-process against the real API listening on a free port: the device
 * sends its claim request over ThingsBoard's HTTP device API, the CLI claims it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run.js';
import { type ListeningApi, startListeningApi } from './test-support/listening-api.js';

const ADMIN_KEY = 'cli-claim-admin-key-0123456789abcdef';
const TOKEN = 'cli-claim-device-token-0123456789';

let api: ListeningApi;
let url: string;

beforeAll(async () => {
  api = await startListeningApi('cli_claim', ADMIN_KEY);
  ({ url } = api);
});

afterAll(async () => {
  await api?.close();
});

async function spms(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    { SPMS_API_URL: url, SPMS_API_KEY: ADMIN_KEY, ...env },
    { out: (t) => out.push(t), err: (t) => err.push(t) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('spms devices claim', () => {
  it('claims a device with the secret of its claim request; a wrong secret gets the API message and exit 1', async () => {
    expect((await spms(['devices', 'create', 'CLI_CLAIM_1', '--token', TOKEN])).code).toBe(0);
    // The device asks to be claimed (ThingsBoard's HTTP claim; v1/devices/me/claim over MQTT does the same).
    const asked = await fetch(`${url}/api/v1/${TOKEN}/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secretKey: 'open-sesame-42', durationMs: 60_000 }),
    });
    expect(asked.status).toBe(200);

    const wrong = await spms(['devices', 'claim', 'CLI_CLAIM_1', '--secret', 'not-the-secret', '--customer', 'Acme']);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toBe(
      'spms: HTTP 404 NOT_FOUND: no device "CLI_CLAIM_1" with a pending claim request matching this secretKey',
    );
    // An unscoped key must name the customer: the API's 400 says so.
    const noCustomer = await spms(['devices', 'claim', 'CLI_CLAIM_1', '--secret', 'open-sesame-42']);
    expect(noCustomer.code).toBe(1);
    expect(noCustomer.err).toMatch(/HTTP 400.*customer: name the customer to assign the device to/);
    expect(JSON.parse((await spms(['devices', 'get', 'CLI_CLAIM_1', '--json'])).out).customer).toBeNull();

    const ok = await spms(['devices', 'claim', 'CLI_CLAIM_1', '--secret', 'open-sesame-42', '--customer', 'Acme']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^claimed device CLI_CLAIM_1 \([0-9a-f-]{36}\) for customer Acme$/);
    expect(JSON.parse((await spms(['devices', 'get', 'CLI_CLAIM_1', '--json'])).out).customer).toBe('Acme');

    // Used up: the same secret claims nothing again.
    const again = await spms(['devices', 'claim', 'CLI_CLAIM_1', '--secret', 'open-sesame-42', '--customer', 'Acme']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/HTTP 404/);
  });

  it('reads the secret from SPMS_CLAIM_SECRET with --secret-env, and says what is wrong with the command line', async () => {
    const token = 'cli-claim-device-token-second-0123';
    expect((await spms(['devices', 'create', 'CLI_CLAIM_2', '--token', token])).code).toBe(0);
    const asked = await fetch(`${url}/api/v1/${token}/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secretKey: 'from-the-env-7' }),
    });
    expect(asked.status).toBe(200);

    expect((await spms(['devices', 'claim', 'CLI_CLAIM_2'])).err).toMatch(/--secret S/);
    expect((await spms(['devices', 'claim', 'CLI_CLAIM_2'])).code).toBe(2);
    expect((await spms(['devices', 'claim', '--secret', 'x'])).code).toBe(2);
    expect((await spms(['devices', 'claim', 'CLI_CLAIM_2', '--secret', 'x', '--secret-env'])).code).toBe(2);

    const prev = process.env.SPMS_CLAIM_SECRET;
    process.env.SPMS_CLAIM_SECRET = 'from-the-env-7';
    try {
      const ok = await spms(['devices', 'claim', 'CLI_CLAIM_2', '--secret-env', '--customer', 'Beta', '--json']);
      expect(ok.code, ok.err).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ name: 'CLI_CLAIM_2', customer: 'Beta' });
    } finally {
      if (prev === undefined) delete process.env.SPMS_CLAIM_SECRET;
      else process.env.SPMS_CLAIM_SECRET = prev;
    }
  });
});
