/**
 * Notifications pages in chromium against the real stack: report e-mails (an admin creates,
 * edits and deletes one from the page; a viewer reads it) and an alert's escalation on the
 * alerts page (policy, steps, the next tier and when it is due, how it was acknowledged).
 * Screenshots go to test-artifacts/web/.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, type Stack, startStack } from './test-support/stack.js';

const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/web/', import.meta.url));
const shot = (page: Page, name: string) => page.screenshot({ path: `${ARTIFACTS}${name}.png`, fullPage: true });

type Login = { username: string; password: string } | { key: string };
let stack: Stack;
let device: MqttClient;
const logins: Record<'admin' | 'viewer', Login> = {} as never;
const ids: Record<string, string> = {};

async function principal(role: 'admin' | 'viewer'): Promise<Login> {
  const password = `${role}-password-123`;
  const user = await stack.call('POST', '/api/users', { username: `${role}2`, password, role });
  if (user.status === 201) return { username: `${role}2`, password };
  const key = await stack.call('POST', '/api/api-keys', { name: role, role });
  expect(key.status).toBe(201);
  return { key: (key.body as { key: string }).key };
}

async function signIn(login: Login): Promise<Page> {
  const context = await stack.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // An action that cannot happen fails with its locator, well within the test's timeout.
  page.setDefaultTimeout(10_000);
  await page.route(/tile\.openstreetmap\.org/, (r) => r.abort());
  await page.goto(stack.baseUrl);
  if ('key' in login) {
    await page.getByRole('button', { name: 'Use an API key' }).click();
    await page.getByLabel('API key').fill(login.key);
  } else {
    await page.getByLabel('Username').fill(login.username);
    await page.getByLabel('Password').fill(login.password);
  }
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('device-table').waitFor();
  return page;
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function recipient(body: Record<string, unknown>): Promise<string> {
  const r = await stack.call('POST', '/api/recipients', { scopeKind: 'all', ...body });
  expect(r.status).toBe(201);
  return (r.body as { id: string }).id;
}

interface EscalationView {
  nextTier: number | null;
  steps: { tier: number; recipientName: string | null; outcome: string }[];
}

describe.skipIf(!hasChromium && !process.env.CI)('notifications pages in chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startStack('web-notify');
    const created = await stack.call('POST', '/api/devices', {
      name: '0007_MSAN',
      label: 'Maharagama',
      region: 'Western',
      credentials: { type: 'MQTT_BASIC', clientId: 'c-0007', username: 'u-0007', password: 'p-0007-secret' },
    });
    expect(created.status).toBe(201);
    // Subscribed to voltage only: the escalation policy is what tells them about outages.
    ids.asha = await recipient({ name: 'Asha', phone: '077 100 0001', kinds: ['voltage'] });
    ids.bandara = await recipient({ name: 'Bandara', phone: '077 100 0002', kinds: ['voltage'] });
    ids.chandra = await recipient({ name: 'Chandra', phone: '077 100 0003', kinds: ['voltage'] });
    ids.planner = await recipient({
      name: 'Planner',
      email: 'planner@example.lk',
      channel: 'email',
      kinds: ['outage'],
    });
    const policy = await stack.call('POST', '/api/escalation-policies', {
      name: 'Duty escalation',
      scopeKind: 'all',
      tiers: [
        { delaySec: 0, recipientIds: [ids.asha] },
        { delaySec: 1, recipientIds: [ids.bandara] },
        { delaySec: 3600, recipientIds: [ids.chandra] },
      ],
    });
    expect(policy.status).toBe(201);
    logins.admin = await principal('admin');
    logins.viewer = await principal('viewer');
    device = await stack.device('c-0007', 'u-0007', 'p-0007-secret');
    for (let line = 1; line <= 8; line++)
      await device.publishAsync('v1/devices/me/telemetry', `{'${line}':'true'}`, { qos: 1 });
    await until(async () => {
      const status = (await stack.call('GET', '/api/status')).body as {
        devices?: { name: string; lines: { state: string }[] }[];
      };
      const d = status.devices?.find((x) => x.name === '0007_MSAN');
      return d?.lines.filter((l) => l.state === 'powered').length === 8;
    }, '0007_MSAN with 8 lines powered');
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('an admin creates, edits and deletes a report e-mail from the page; a viewer only reads it', async () => {
    const page = await signIn(logins.admin);
    page.on('dialog', (d) => void d.accept());
    await page.getByRole('link', { name: 'Report e-mails' }).click();
    const form = page.getByTestId('report-sub-create-form');
    // Recipients without an e-mail address cannot be chosen.
    await form.locator('option', { hasText: 'Planner <planner@example.lk>' }).waitFor({ state: 'attached' });
    expect(await form.locator('option', { hasText: 'Asha (no e-mail address)' }).isDisabled()).toBe(true);
    await form.getByLabel('Recipient').selectOption(ids.planner as string);
    await form.getByLabel('Report covers').selectOption('region');
    await form.getByLabel('Region', { exact: true }).fill('Western');
    await form.getByLabel('Worst sites listed').fill('5');
    await form.getByRole('checkbox', { name: /Weekly/ }).check();
    await form.getByRole('button', { name: 'Add report e-mail' }).click();
    const row = page.locator('tr[data-report-sub="Planner"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('region Western');
    expect(await row.textContent()).toContain('monthly, weekly');
    expect(await row.textContent()).toContain('planner@example.lk');
    // The stack's workers have no SMTP_URL: the page says nothing will be sent.
    expect(await row.textContent()).toContain('e-mail is off');
    expect(await page.getByTestId('report-subs-msg').textContent()).toContain('Saved: monthly, weekly report');
    const listed = (await stack.call('GET', '/api/report-subscriptions')).body as {
      items: { recipientId: string; scopeKind: string; scopeValue: string; worstSites: number; weekly: boolean }[];
    };
    expect(listed.items).toEqual([
      expect.objectContaining({
        recipientId: ids.planner,
        scopeKind: 'region',
        scopeValue: 'Western',
        worstSites: 5,
        weekly: true,
      }),
    ]);

    // vitest's expect.poll gives up after 1 s unless told: every poll here says how long.
    // Neither period: refused on the page, nothing saved.
    await row.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByTestId('report-sub-edit-form');
    await edit.getByRole('checkbox', { name: /Monthly/ }).uncheck();
    await edit.getByRole('checkbox', { name: /Weekly/ }).uncheck();
    await edit.getByRole('button', { name: 'Save report e-mail' }).click();
    await expect
      .poll(() => page.getByTestId('report-subs-msg').textContent(), { timeout: 10_000 })
      .toContain('Not saved');
    await edit.getByRole('checkbox', { name: /Weekly/ }).check();
    await edit.getByRole('button', { name: 'Save report e-mail' }).click();
    await expect.poll(() => row.locator('td').nth(2).textContent(), { timeout: 10_000 }).toBe('weekly');
    await shot(page, '20-report-emails');

    const viewer = await signIn(logins.viewer);
    await viewer.getByRole('link', { name: 'Report e-mails' }).click();
    await viewer.locator('tr[data-report-sub="Planner"]').waitFor();
    await viewer.getByTestId('report-subs-readonly').waitFor();
    expect(await viewer.getByRole('button', { name: /Edit|Delete|Add report e-mail/ }).count()).toBe(0);
    expect(await viewer.getByTestId('report-sub-create-form').count()).toBe(0);
    await shot(viewer, '21-report-emails-viewer');
    await viewer.context().close();

    await row.getByRole('button', { name: 'Delete' }).click();
    await row.waitFor({ state: 'detached' });
    expect(((await stack.call('GET', '/api/report-subscriptions')).body as { items: unknown[] }).items).toEqual([]);
    await page.context().close();
  }, 60_000);

  it("shows an alert's escalation: policy, every step, the next tier and when due, and the acknowledgement", async () => {
    await device.publishAsync('v1/devices/me/telemetry', `{'3':'false'}`, { qos: 1 });
    let alertId = '';
    await until(async () => {
      const list = (await stack.call('GET', '/api/alerts?status=active')).body as { items?: { id: number }[] };
      alertId = String(list.items?.[0]?.id ?? '');
      if (!alertId) return false;
      const one = (await stack.call('GET', `/api/alerts/${alertId}`)).body as { escalation: EscalationView | null };
      // Tier 2 (1 s after tier 1) told; tier 3 waits an hour.
      return one.escalation?.nextTier === 3;
    }, 'tiers 1 and 2 told');

    const page = await signIn(logins.admin);
    await page.getByRole('link', { name: 'Alerts' }).click();
    const row = page.getByTestId('alerts-active').locator('tr', { hasText: 'line 3' });
    await row.waitFor({ timeout: 15_000 });
    await row.getByText('Escalation', { exact: true }).click();
    const steps = row.getByTestId('escalation-steps').locator('li');
    await expect.poll(() => steps.count(), { timeout: 10_000 }).toBe(2);
    expect(await steps.nth(0).textContent()).toMatch(/^tier 1 · Asha · ✓ told · /);
    expect(await steps.nth(1).textContent()).toMatch(/^tier 2 · Bandara · ✓ told · /);
    expect(await row.getByTestId('alert-escalation').textContent()).toContain('Policy Duty escalation');
    expect(await row.getByTestId('escalation-state').textContent()).toMatch(/^next: tier 3 due .+ \(in (59 min|1 h)/);
    await shot(page, '22-alert-escalation');

    await row.getByRole('button', { name: 'Acknowledge' }).click();
    await row.locator('text=✓ acknowledged').waitFor();
    expect(await row.textContent()).toMatch(/on the dashboard by \S+/);
    await expect
      .poll(() => row.getByTestId('escalation-state').textContent(), { timeout: 10_000 })
      .toBe('acknowledged: tier 3 will not be told');
    await shot(page, '23-alert-escalation-acknowledged');
    await page.context().close();
  });
});
