/**
 * Device management pages in chromium against the real stack: an admin uploads firmware
 * from the Firmware page (checksum computed in the browser; a wrong one shows the API's
 * refusal), starts a rollout over two devices, follows it per wave and per device, pauses
 * and resumes it; on a device page assigns and clears firmware, sends a persistent RPC to
 * the offline device, sees it QUEUED in the history and cancels it; on the Profiles page
 * sets a profile's provisioning (strategy, key, write-only secret) and firmware; claims a
 * device with its claim secret (a wrong one shows the API's refusal). A viewer, and a
 * region-scoped operator for profiles, read the pages without the controls. Screenshots go
 * to test-artifacts/web/.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, hasChromium, type Stack, startStack } from './test-support/stack.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/web/', import.meta.url));
const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

let stack: Stack;
let viewerKey: string;
let scopedOperatorKey: string;
const CLAIM_TOKEN = 'e2e-claim-device-token-0123456789';
const PROVISION_SECRET = 'field-kit-provision-secret-0001';
const image = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256));

async function signIn(key: string): Promise<Page> {
  const context = await stack.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  // Confirmation dialogs (delete, cancel) are answered yes.
  page.on('dialog', (d) => void d.accept());
  await page.route(/tile\.openstreetmap\.org/, (r) => r.abort());
  await page.goto(stack.baseUrl);
  await page.getByRole('button', { name: 'Use an API key' }).click();
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('device-table').waitFor();
  return page;
}

const nav = (page: Page, name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true });

async function createDevice(name: string): Promise<void> {
  const r = await stack.call('POST', '/api/devices', {
    name,
    region: 'Western',
    credentials: { type: 'MQTT_BASIC', clientId: `c-${name}`, username: `u-${name}`, password: `p-${name}-secret` },
  });
  expect(r.status).toBe(201);
}

async function upload(page: Page, version: string, checksum = '', algorithm = 'SHA256'): Promise<void> {
  const form = page.getByTestId('firmware-upload-form');
  await form
    .getByLabel('Image file')
    .setInputFiles({ name: 'cabinet.bin', mimeType: 'application/octet-stream', buffer: image });
  await form.getByLabel('Title').fill('cabinet');
  await form.getByLabel('Version').fill(version);
  await form.getByLabel('Checksum algorithm').selectOption(algorithm);
  await form.getByLabel('Checksum (hex)').fill(checksum);
  await form.getByRole('button', { name: 'Upload firmware' }).click();
}

describe.skipIf(!hasChromium && !process.env.CI)('device management pages in chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startStack('web-devmgmt');
    for (const name of ['FW_A', 'FW_B', 'FW_C']) await createDevice(name);
    const key = await stack.call('POST', '/api/api-keys', { name: 'viewer', role: 'viewer' });
    expect(key.status).toBe(201);
    viewerKey = (key.body as { key: string }).key;
    // The API refuses profile changes from a region-scoped operator: the page must not offer them.
    const scoped = await stack.call('POST', '/api/api-keys', {
      name: 'west-op',
      role: 'operator',
      regions: ['Western'],
    });
    expect(scoped.status).toBe(201);
    scopedOperatorKey = (scoped.body as { key: string }).key;
    // A profile of its own for the Profiles page, with one device that will ask to be claimed.
    expect((await stack.call('POST', '/api/profiles', { name: 'FIELD_KITS' })).status).toBe(201);
    const kit = await stack.call('POST', '/api/devices', {
      name: 'CLAIM_1',
      region: 'Western',
      profile: 'FIELD_KITS',
      credentials: { type: 'ACCESS_TOKEN', token: CLAIM_TOKEN },
    });
    expect(kit.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('an admin uploads firmware, rolls it out over two devices, pauses, resumes, cancels and rolls it back', async () => {
    const page = await signIn(ADMIN_KEY);
    await nav(page, 'Firmware').click();
    await page.getByTestId('firmware-upload-form').waitFor();

    // A wrong checksum: the API's 400 names both values; nothing is listed.
    await upload(page, '2.0.0', '00'.repeat(32));
    await expect
      .poll(() => page.getByTestId('firmware-msg').textContent())
      .toMatch(/Not uploaded: .*checksum mismatch/);
    expect(await page.locator('[data-firmware]').count()).toBe(0);

    // Left empty, the page computes the checksum itself: CRC32 here, SHA-256 by SubtleCrypto.
    await upload(page, '1.0.0', '', 'CRC32');
    await expect
      .poll(() => page.getByTestId('firmware-msg').textContent())
      .toMatch(/^Uploaded cabinet 1\.0\.0 .*CRC32/);
    await upload(page, '2.0.0');
    await expect
      .poll(() => page.getByTestId('firmware-msg').textContent())
      .toMatch(/^Uploaded cabinet 2\.0\.0 \(4\.9 KiB/);
    const row = page.locator('[data-firmware="cabinet 2.0.0"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('SHA256');
    await expect.poll(() => row.getByTestId('firmware-assigned').textContent()).toBe('not assigned');
    const list = (await stack.call('GET', '/api/firmware')).body as { items: { id: string; size: number }[] };
    expect(list.items.map((f) => f.size)).toEqual([image.length, image.length]);
    await shot(page, 'firmware-page');

    // A rollout over FW_A and FW_B in two waves (50 %, 100 %), one download at a time.
    await nav(page, 'Rollouts').click();
    const form = page.getByTestId('rollout-form');
    await form.getByLabel('Firmware').selectOption({ label: 'cabinet 2.0.0' });
    await form.getByLabel(/^Devices/).fill('FW_A, FW_B');
    await form.getByLabel('Waves (cumulative %)').fill('50, 100');
    await form.getByLabel('Max concurrent downloads').fill('1');
    await form.getByLabel('Pause above failure rate (%)').fill('50');
    // Waves that do not increase: the API's 400 is shown and nothing starts.
    await form.getByLabel('Waves (cumulative %)').fill('50, 10');
    await form.getByRole('button', { name: 'Start rollout' }).click();
    await expect.poll(() => page.getByTestId('rollouts-msg').textContent()).toMatch(/^Not started: .*wave/i);
    expect(((await stack.call('GET', '/api/rollouts')).body as { items: unknown[] }).items).toEqual([]);
    await form.getByLabel('Waves (cumulative %)').fill('50, 100');
    await form.getByRole('button', { name: 'Start rollout' }).click();
    await page.waitForURL(/\/rollouts\/[0-9a-f-]{36}$/);
    const rolloutId = page.url().split('/').pop() as string;

    // Detail: two waves of one device each, and both devices listed.
    const waves = page.getByTestId('rollout-waves');
    await expect.poll(() => waves.locator('tr[data-wave]').count()).toBe(2);
    expect(await waves.locator('tr[data-wave="1"]').textContent()).toContain('50 %');
    await expect.poll(() => page.getByTestId('rollout-devices').locator('tr[data-device]').count()).toBe(2);
    expect(await page.getByTestId('wave-bar-1').isVisible()).toBe(true);
    expect(await page.getByTestId('rollout-status').textContent()).toBe('running');
    // The worker's controller assigns wave 1's device (the devices are offline: it stays assigned).
    await expect
      .poll(() => page.locator('tr[data-device][data-state="assigned"]').count(), { timeout: 20_000 })
      .toBe(1);
    await shot(page, 'rollout-detail');

    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('paused');
    expect(await page.getByTestId('rollout-msg').textContent()).toMatch(/^Rollout paused/);
    expect(((await stack.call('GET', `/api/rollouts/${rolloutId}`)).body as { status: string }).status).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('running');
    expect(((await stack.call('GET', `/api/rollouts/${rolloutId}`)).body as { status: string }).status).toBe('running');

    // The list shows it with its progress.
    await page.getByRole('link', { name: '← Rollouts' }).click();
    const listed = page.locator(`tr[data-rollout="${rolloutId}"]`);
    await listed.waitFor();
    expect(await listed.textContent()).toContain('cabinet 2.0.0');
    expect(await listed.getByTestId('rollout-status').textContent()).toBe('running');

    // Deleting firmware a rollout is using: the API's 409 is shown, the row stays.
    await nav(page, 'Firmware').click();
    await expect.poll(() => row.getByTestId('firmware-assigned').textContent()).toMatch(/1 active rollout/);
    await row.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByTestId('firmware-msg').textContent()).toMatch(/^Not deleted: /);
    expect(await row.count()).toBe(1);

    // Cancel it and roll back: a rollout of the previous version over the devices it assigned.
    await page.goto(`${stack.baseUrl}/rollouts/${rolloutId}`);
    await page.getByRole('button', { name: 'Cancel rollout' }).click();
    await expect.poll(() => page.getByTestId('rollout-status').textContent()).toBe('cancelled');
    await page.getByRole('button', { name: 'Roll back…' }).click();
    const back = page.getByTestId('rollback-form');
    await expect
      .poll(() => back.getByLabel('Firmware').evaluate((el) => (el as HTMLSelectElement).selectedOptions[0]?.text))
      .toBe('cabinet 1.0.0');
    await back.getByRole('button', { name: 'Roll back' }).click();
    await page.waitForURL(
      (url) => /\/rollouts\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(rolloutId),
    );
    await expect.poll(() => page.locator('h1').textContent()).toBe('cabinet 1.0.0');
    const rolledBack = (await stack.call('GET', `/api/rollouts/${page.url().split('/').pop()}`)).body as {
      devices: number;
      status: string;
    };
    expect(rolledBack).toMatchObject({ devices: 1, status: 'running' });
    await page.context().close();
  }, 120_000);

  it('on a device page an admin assigns firmware, queues a persistent RPC for the offline device and cancels it', async () => {
    const page = await signIn(ADMIN_KEY);
    await page.goto(`${stack.baseUrl}/devices/FW_C`);
    const fw = page.getByTestId('device-firmware');
    await fw.waitFor();
    expect(await fw.getByTestId('fw-target').textContent()).toMatch(/^none/);
    await fw.getByRole('combobox').selectOption({ label: 'cabinet 2.0.0' });
    await fw.getByRole('button', { name: 'Assign firmware' }).click();
    await expect.poll(() => fw.getByTestId('fw-target').textContent()).toMatch(/^cabinet 2\.0\.0 · from the device/);
    const attrs = (await stack.call('GET', '/api/devices/FW_C/attributes')).body as { shared: Record<string, unknown> };
    expect(attrs.shared.fw_version).toBe('2.0.0');
    await fw.getByRole('button', { name: 'Clear device assignment' }).click();
    await expect.poll(() => fw.getByTestId('fw-target').textContent()).toMatch(/^none/);

    const form = page.getByTestId('rpc-form');
    await form.getByLabel('Method').fill('setLine');
    await form.getByLabel('Params (JSON)').fill('{"line": 3, "on": false}');
    expect(await form.locator('input[name=persistent]').isChecked()).toBe(true);
    await form.getByLabel('Expires in (minutes)').fill('60');
    await form.getByLabel('Retries').fill('2');
    await form.getByRole('button', { name: 'Send RPC' }).click();
    await expect.poll(() => page.getByTestId('rpc-msg').textContent()).toMatch(/^Stored as [0-9a-f-]{36} \(QUEUED\)/);
    const history = page.getByTestId('rpc-history');
    const queued = history.locator('tr[data-status="QUEUED"]');
    await queued.waitFor();
    expect(await queued.textContent()).toContain('setLine');
    expect(await queued.textContent()).toContain('0 of 3');
    await shot(page, 'device-rpc');

    await queued.getByRole('button', { name: 'Cancel' }).click();
    await history.locator('tr[data-status="CANCELLED"]').waitFor();
    const rpcs = (await stack.call('GET', '/api/devices/FW_C/rpc')).body as { items: { status: string }[] };
    expect(rpcs.items.map((r) => r.status)).toEqual(['CANCELLED']);

    // A lightweight RPC to the offline device: no answer within its timeout (the API's 504).
    await form.locator('input[name=persistent]').uncheck();
    await form.getByLabel('Timeout per attempt (ms)').fill('500');
    await form.getByRole('button', { name: 'Send RPC' }).click();
    await expect.poll(() => page.getByTestId('rpc-msg').textContent()).toMatch(/^No answer: /);
    expect(await history.locator('tr[data-rpc]').count()).toBe(1);

    // Invalid params JSON is refused by the page with a hint; nothing is sent.
    await form.getByLabel('Method').fill('setLine');
    await form.getByLabel('Params (JSON)').fill('{line: 3');
    await form.getByRole('button', { name: 'Send RPC' }).click();
    await expect.poll(() => page.getByTestId('rpc-msg').textContent()).toMatch(/^Not sent: params must be JSON/);
    await page.context().close();
  }, 60_000);

  it("an admin sets a profile's provisioning and firmware on the Profiles page; the secret is never shown back", async () => {
    const page = await signIn(ADMIN_KEY);
    await nav(page, 'Profiles').click();
    const row = page.locator('[data-profile="FIELD_KITS"]');
    await row.waitFor();
    expect(await row.getByTestId('profile-devices').textContent()).toBe('1');
    expect(await row.getByTestId('profile-strategy').textContent()).toBe('Disabled');
    expect(await row.getByTestId('profile-secret').textContent()).toBe('not set');
    await expect.poll(() => row.getByTestId('profile-firmware').textContent()).toBe('none');

    await row.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByTestId('profile-edit-form');
    await form.getByLabel('Provisioning strategy').selectOption('pre_provisioned');
    await form.getByLabel('Provision key').fill('field-kit-key-0001');
    expect(await form.getByLabel('Provision secret').getAttribute('type')).toBe('password');
    await form.getByLabel('Provision secret').fill(PROVISION_SECRET);
    await form.getByLabel('Firmware').selectOption({ label: 'cabinet 2.0.0' });
    await form.getByRole('button', { name: 'Save profile' }).click();
    await expect
      .poll(() => page.getByTestId('profiles-msg').textContent())
      .toBe('Saved FIELD_KITS: provisioning Pre-provisioned devices only, secret set; firmware cabinet 2.0.0.');
    expect(await page.getByTestId('profile-edit-form').count()).toBe(0);
    await expect.poll(() => row.getByTestId('profile-secret').textContent()).toBe('set');
    expect(await row.getByTestId('profile-strategy').textContent()).toBe('Pre-provisioned devices only');
    expect(await row.getByTestId('profile-key').textContent()).toBe('field-kit-key-0001');
    expect(await row.getByTestId('profile-firmware').textContent()).toBe('cabinet 2.0.0');
    const fw = (await stack.call('GET', '/api/firmware')).body as { items: { id: string; version: string }[] };
    const saved = await stack.call('GET', '/api/profiles/FIELD_KITS');
    expect(saved.body).toMatchObject({
      firmwareId: fw.items.find((f) => f.version === '2.0.0')?.id,
      provisioning: { strategy: 'pre_provisioned', key: 'field-kit-key-0001', hasSecret: true },
    });
    expect(JSON.stringify(saved.body)).not.toContain(PROVISION_SECRET);
    await shot(page, 'profiles-page');

    // Edited again: the secret field is empty (write-only), and left empty the secret is kept:
    // allow_create needs one, so the API accepting it shows the stored secret is still there.
    await row.getByRole('button', { name: 'Edit' }).click();
    expect(await form.getByLabel('Provision secret').inputValue()).toBe('');
    expect(await form.getByLabel('Provision secret').getAttribute('placeholder')).toBe('set: leave empty to keep');
    expect(await page.content()).not.toContain(PROVISION_SECRET);
    await shot(page, 'profile-edit');
    await form.getByLabel('Provisioning strategy').selectOption('allow_create');
    await form.getByLabel('Customer of new devices').fill('Field Ops');
    await form.getByRole('button', { name: 'Save profile' }).click();
    await expect.poll(() => row.getByTestId('profile-strategy').textContent()).toMatch(/^Allow creating new devices/);
    expect(await row.getByTestId('profile-strategy').textContent()).toContain('customer Field Ops');
    expect(await row.getByTestId('profile-secret').textContent()).toBe('set');
    expect(await row.getByTestId('profile-firmware').textContent()).toBe('cabinet 2.0.0');
    expect((await stack.call('GET', '/api/profiles/FIELD_KITS')).body).toMatchObject({
      provisioning: { strategy: 'allow_create', hasSecret: true, customer: 'Field Ops' },
    });
    // The device picked up its profile's firmware.
    const attrs = (await stack.call('GET', '/api/devices/CLAIM_1/attributes')).body as {
      shared: Record<string, unknown>;
    };
    expect(attrs.shared.fw_version).toBe('2.0.0');
    expect(await page.content()).not.toContain(PROVISION_SECRET);
    await page.context().close();
  }, 60_000);

  it('on a device page an admin claims a device with the secret of its claim request', async () => {
    // The device asks to be claimed over ThingsBoard's HTTP device API.
    const asked = await fetch(`${stack.baseUrl}/api/v1/${CLAIM_TOKEN}/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secretKey: 'claim-me-please', durationMs: 600_000 }),
    });
    expect(asked.status).toBe(200);
    const page = await signIn(ADMIN_KEY);
    await page.goto(`${stack.baseUrl}/devices/CLAIM_1`);
    const form = page.getByTestId('claim-form');
    await form.waitFor();
    await form.getByLabel('Claim secret').fill('a-wrong-secret');
    await form.getByLabel('Customer').fill('Acme');
    await form.getByRole('button', { name: 'Claim device' }).click();
    await expect
      .poll(() => page.getByTestId('claim-msg').textContent())
      .toBe('Not claimed: no device "CLAIM_1" with a pending claim request matching this secretKey');
    await shot(page, 'device-claim');
    expect(((await stack.call('GET', '/api/devices/CLAIM_1')).body as { customer: string | null }).customer).toBe(null);
    await form.getByLabel('Claim secret').fill('claim-me-please');
    await form.getByRole('button', { name: 'Claim device' }).click();
    await expect
      .poll(() => page.getByTestId('claim-msg').textContent())
      .toBe('Claimed: CLAIM_1 is assigned to customer Acme.');
    expect(await page.getByTestId('claim-form').count()).toBe(0);
    expect(((await stack.call('GET', '/api/devices/CLAIM_1')).body as { customer: string | null }).customer).toBe(
      'Acme',
    );
    // A device with a customer cannot be claimed: no form on its page.
    await page.reload();
    await page.getByTestId('device-firmware').waitFor();
    expect(await page.getByTestId('device-claim').count()).toBe(0);
    await page.context().close();
  }, 60_000);

  it('a region-scoped operator reads the Profiles page without edit controls (the API refuses them)', async () => {
    const page = await signIn(scopedOperatorKey);
    await nav(page, 'Profiles').click();
    const row = page.locator('[data-profile="FIELD_KITS"]');
    await row.waitFor();
    await page.getByTestId('profiles-readonly').waitFor();
    expect(await page.getByRole('button', { name: 'Edit' }).count()).toBe(0);
    const refused = await stack.call('PATCH', '/api/profiles/FIELD_KITS', { description: 'x' }, scopedOperatorKey);
    expect(refused.status).toBe(403);
    await page.context().close();
  }, 60_000);

  it("a viewer reads firmware, rollouts and a device's RPC history without the controls", async () => {
    const page = await signIn(viewerKey);
    await nav(page, 'Firmware').click();
    await page.locator('[data-firmware="cabinet 2.0.0"]').waitFor();
    await page.getByTestId('firmware-readonly').waitFor();
    expect(await page.getByTestId('firmware-upload-form').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    await nav(page, 'Rollouts').click();
    await page.getByTestId('rollouts-readonly').waitFor();
    await page.locator('tr[data-rollout] a').first().click();
    await page.getByTestId('rollout-waves').waitFor();
    expect(await page.getByTestId('rollout-controls').count()).toBe(0);
    // On a device page: firmware and the RPC history, but no assignment or send form.
    await page.goto(`${stack.baseUrl}/devices/FW_C`);
    await page.getByTestId('device-firmware').waitFor();
    await page.getByTestId('rpc-history').locator('tr[data-status="CANCELLED"]').waitFor();
    expect(await page.getByTestId('fw-controls').count()).toBe(0);
    expect(await page.getByTestId('rpc-form').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    // FW_C has no customer (an admin gets the claim form there); a viewer cannot claim.
    expect(await page.getByTestId('device-claim').count()).toBe(0);
    // Profiles: provisioning (whether a secret is set, never the secret) and firmware, no edit controls.
    await nav(page, 'Profiles').click();
    const row = page.locator('[data-profile="FIELD_KITS"]');
    await row.waitFor();
    await page.getByTestId('profiles-readonly').waitFor();
    expect(await row.getByTestId('profile-secret').textContent()).toBe('set');
    await expect.poll(() => row.getByTestId('profile-firmware').textContent()).toBe('cabinet 2.0.0');
    expect(await page.getByRole('button', { name: 'Edit' }).count()).toBe(0);
    expect(await page.getByTestId('profile-edit-form').count()).toBe(0);
    expect(await page.content()).not.toContain(PROVISION_SECRET);
    await page.context().close();
  }, 60_000);
});
