/** Drives the spms CLI in-process against the real API listening on a free port. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from './run.js';
import { type ListeningApi, startListeningApi } from './test-support/listening-api.js';

const ADMIN_KEY = 'cli-admin-key-0123456789abcdef';

let api: ListeningApi;
let url: string;
let dir: string;

beforeAll(async () => {
  api = await startListeningApi('cli', ADMIN_KEY);
  ({ url } = api);
  dir = await mkdtemp(join(tmpdir(), 'spms-cli-'));
});

afterAll(async () => {
  await api?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function spms(args: string[], key: string | undefined = ADMIN_KEY) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(
    args,
    { SPMS_API_URL: url, SPMS_API_KEY: key },
    {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('spms CLI over HTTP', () => {
  it('creates an operator key and manages devices with it', async () => {
    const created = await spms(['api-keys', 'create', 'field laptop', '--role', 'operator', '--json']);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.out).key as string;

    const supplied = await spms(
      [
        'devices',
        'create',
        '0003_MSAN',
        '--region',
        'Colombo',
        '--lat',
        '6.93',
        '--lon',
        '79.86',
        '--line',
        '3=Pump',
        '--client-id',
        'esp-3',
        '--username',
        'u-3',
        '--password',
        'firmware-pw-3',
      ],
      key,
    );
    expect(supplied.code, supplied.err).toBe(0);
    expect(supplied.out).toContain('3=Pump');
    expect(supplied.out).not.toContain('firmware-pw-3');
    expect(supplied.out).not.toContain('Generated credentials');

    const generated = await spms(['devices', 'create', '0004_MSAN', '--type', 'ACCESS_TOKEN'], key);
    expect(generated.code).toBe(0);
    expect(generated.out).toMatch(/Generated credentials \(ACCESS_TOKEN\)[\s\S]*token: +[\w-]{20,}/);

    const list = await spms(['devices', 'list'], key);
    expect(list.out).toMatch(/^NAME +LABEL/);
    expect(list.out).toMatch(/0003_MSAN .*Colombo .*MQTT_BASIC/);
    expect(list.out).toContain('2 of 2 device(s)');

    const upd = await spms(
      ['devices', 'update', '0003_MSAN', '--notes', 'no antenna', '--voltage-min', '210', '--json'],
      key,
    );
    expect(JSON.parse(upd.out)).toMatchObject({ notes: 'no antenna', overrides: { voltageMin: 210 } });

    const rotated = await spms(['credentials', 'rotate', '0003_MSAN', '--type', 'mqtt-basic'], key);
    expect(rotated.code).toBe(0);
    expect(rotated.out).toMatch(/password: +\S{20,}/);
    const revoked = await spms(['credentials', 'revoke', '0004_MSAN'], key);
    expect(revoked.out).toContain('now none');

    const del = await spms(['devices', 'delete', '0004_MSAN'], key);
    expect(del.out).toContain('deleted device 0004_MSAN');
    const gone = await spms(['devices', 'get', '0004_MSAN'], key);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/HTTP 404 NOT_FOUND: no device with id or name "0004_MSAN"/);
  });

  it('imports a CSV file, refusing a file with a bad row', async () => {
    const bad = join(dir, 'bad.csv');
    await writeFile(bad, 'name,latitude,longitude\n0010_MSAN,6.9,79.8\n0011_MSAN,91,79.8\n');
    const rejected = await spms(['devices', 'import', bad]);
    expect(rejected.code).toBe(1);
    expect(rejected.err).toContain('row 3, latitude: must be a number between -90 and 90');

    const good = join(dir, 'good.csv');
    await writeFile(good, 'name,credentials_type\n0010_MSAN,ACCESS_TOKEN\n0011_MSAN,\n');
    const dry = await spms(['devices', 'import', good, '--dry-run']);
    expect(dry.out).toContain('dry run: 2 device(s) would be created');
    const done = await spms(['devices', 'import', good, '--json']);
    const result = JSON.parse(done.out);
    expect(result.count).toBe(2);
    expect(result.devices[0].issuedCredentials.token).toBeTruthy();
    expect((await spms(['devices', 'get', '0011_MSAN'])).code).toBe(0);
  });

  it('manages profiles and reports refusals with non-zero exit codes', async () => {
    expect((await spms(['profiles', 'create', 'Rural', '--inactivity-timeout', '900'])).code).toBe(0);
    await spms(['devices', 'update', '0011_MSAN', '--profile', 'Rural']);
    const inUse = await spms(['profiles', 'delete', 'Rural']);
    expect(inUse.code).toBe(1);
    expect(inUse.err).toMatch(/409 CONFLICT: profile "Rural" is used by 1 device/);
    const profiles = await spms(['profiles', 'list']);
    expect(profiles.out).toMatch(/SPMS \(default\) +MQTT/);
    process.env.SPMS_PROVISION_SECRET = 'cli-provision-secret-0123';
    const prov = await spms([
      'profiles',
      'update',
      'Rural',
      '--provision-strategy',
      'pre_provisioned',
      '--provision-key',
      'cli-provision-key',
      '--provision-secret-env',
    ]);
    delete process.env.SPMS_PROVISION_SECRET;
    expect(prov.code).toBe(0);
    expect(prov.out).toMatch(/provisioning: +pre_provisioned \(key cli-provision-key, secret set/);
    expect(prov.out).not.toContain('cli-provision-secret-0123');

    const unauth = await spms(['devices', 'list'], 'wrong-key');
    expect(unauth.code).toBe(1);
    expect(unauth.err).toMatch(/HTTP 401/);
    const usage = await spms(['devices', 'create', '0012_MSAN', '--lat', 'north']);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--lat must be a number');
    expect((await spms(['devices', 'frobnicate'])).code).toBe(2);
  });
});
