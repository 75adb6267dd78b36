/**
 * The dashboard in a real browser (Debian's chromium via playwright-core) against the real
 * stack: a simulated device speaks the firmware's MQTT to the gateway, the worker turns it
 * into line state, the API serves both the data and the built dashboard.
 * Screenshots of every page go to test-artifacts/web/ (gitignored).
 */
import { mkdirSync, readFileSync } from 'node:fs';
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
const logins: Record<'operator' | 'viewer', Login> = {} as never;
const cspViolations: string[] = [];

/** A user with a password when the API has users, else an API key of that role. */
async function principal(role: 'operator' | 'viewer'): Promise<Login> {
  const password = `${role}-password-123`;
  const user = await stack.call('POST', '/api/users', { username: `${role}1`, password, role });
  if (user.status === 201) return { username: `${role}1`, password };
  const key = await stack.call('POST', '/api/api-keys', { name: role, role });
  expect(key.status).toBe(201);
  return { key: (key.body as { key: string }).key };
}

async function signIn(login: Login): Promise<Page> {
  const context = await stack.browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // The API's Content-Security-Policy (plugins/security-headers.ts) must let every page work.
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  // Tiles unreachable (an isolated network): the markers must still show.
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

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const publish = (topic: string, payload: string) => device.publishAsync(topic, payload, { qos: 1 });

// Skipped on a developer machine without Debian's chromium; in CI (CI set) a missing
// browser fails the run instead of silently skipping it.
describe.skipIf(!hasChromium && !process.env.CI)('dashboard in chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    stack = await startStack('web-e2e');
    const created = await stack.call('POST', '/api/devices', {
      name: '0003_MSAN',
      label: 'Kelaniya',
      region: 'Western',
      latitude: 6.955,
      longitude: 79.922,
      credentials: { type: 'MQTT_BASIC', clientId: 'c-0003', username: 'u-0003', password: 'p-0003-secret' },
    });
    expect(created.status).toBe(201);
    await stack.call('POST', '/api/devices', { name: '0004_MSAN', region: 'Western', latitude: 6.9, longitude: 79.86 });
    const recipient = await stack.call('POST', '/api/recipients', {
      name: 'NOC duty',
      phone: '077 123 4567',
      scopeKind: 'all',
      kinds: ['outage', 'restoration'],
    });
    expect(recipient.status).toBe(201);
    logins.operator = await principal('operator');
    logins.viewer = await principal('viewer');
    device = await stack.device('c-0003', 'u-0003', 'p-0003-secret');
    // What the firmware sends at boot: 8 single-quoted line messages, then voltage.
    for (let line = 1; line <= 8; line++) await publish('v1/devices/me/telemetry', `{'${line}':'true'}`);
    await publish('v1/devices/me/telemetry', `{'V':229.5}`);
    await until(async () => {
      const status = (await stack.call('GET', '/api/status')).body as {
        devices?: { name: string; active: boolean; lines: { state: string }[] }[];
      };
      const d = status.devices?.find((x) => x.name === '0003_MSAN');
      return !!d?.active && d.lines.filter((l) => l.state === 'powered').length === 8;
    }, 'device 0003_MSAN active with 8 lines powered in /api/status');
  }, 120_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('signs in and shows the fleet: counters, map markers on a blank background, table', async () => {
    const page = await signIn(logins.operator);
    const row = page.locator('tr[data-device="0003_MSAN"]');
    await expect.poll(() => row.getAttribute('data-health'), { timeout: 10_000 }).toBe('ok');
    expect(await page.getByTestId('count-active').textContent()).toContain('1');
    await expect.poll(() => page.locator('.leaflet-marker-icon').count()).toBeGreaterThan(0);
    // The shared test Redis keeps nothing on disk: operators are told acknowledgements are not durable.
    expect(await page.getByTestId('durability-banner').textContent({ timeout: 10_000 })).toMatch(/appendonly yes/);
    // The alert processes run with the console provider: texts are only logged, and said so.
    expect(await page.getByTestId('sms-banner').textContent({ timeout: 10_000 })).toMatch(/only being logged/);
    await shot(page, '1-fleet');
    await page.context().close();
  });

  it('shows line 3 dropping, over real MQTT, without a reload', async () => {
    const page = await signIn(logins.operator);
    await page.getByRole('link', { name: '0003_MSAN' }).click();
    const line3 = page.locator('[data-line="3"]');
    await expect.poll(() => line3.getAttribute('data-state'), { timeout: 10_000 }).toBe('powered');
    // A marker on the document: a reload would lose it.
    await page.evaluate(() => {
      (window as unknown as { noReload: boolean }).noReload = true;
    });
    const sentAt = Date.now();
    await publish('v1/devices/me/telemetry', `{'3':'false'}`);
    await line3.locator('text=NO POWER').waitFor({ timeout: 10_000 });
    const shownAfterMs = Date.now() - sentAt;
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    expect(await page.getByTestId('device-health').textContent()).toContain('Lines down');
    await shot(page, '2-device-line3-down');
    // The fleet view follows too (client-side navigation, still no reload).
    await page.getByRole('link', { name: 'Fleet' }).click();
    await expect
      .poll(() => page.locator('tr[data-device="0003_MSAN"] [data-testid="lines-down"]').textContent(), {
        timeout: 10_000,
      })
      .toContain('TP 3');
    await expect.poll(() => page.getByTestId('count-lines-down').textContent()).toContain('1');
    await shot(page, '3-fleet-line3-down');
    const link = await page.getByTestId('link-state').textContent();
    // Reported, not asserted: a 2-core CI box shared with other suites has no timing guarantees.
    console.info(`line 3 drop shown ${shownAfterMs} ms after PUBACK (link: ${link})`);
    await page.context().close();
  });

  it('gives a viewer no edit controls, and the API refuses a viewer edit', async () => {
    const page = await signIn(logins.viewer);
    await page.goto(`${stack.baseUrl}/devices/0003_MSAN`);
    await page.getByTestId('device-readonly').waitFor();
    expect(await page.getByTestId('device-edit-form').count()).toBe(0);
    expect(await page.getByTestId('credentials-controls').count()).toBe(0);
    expect(await page.getByTestId('durability-banner').count()).toBe(0);
    expect(await page.getByTestId('sms-banner').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Rotate credentials' }).count()).toBe(0);
    await shot(page, '4-device-viewer');
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem('spms.session') ?? '{}').token as string);
    const patch = await stack.call('PATCH', '/api/devices/0003_MSAN', { notes: 'viewer was here' }, token);
    expect(patch.status).toBe(403);
    await page.context().close();
  });

  it('lets an operator save notes and exports outages as CSV', async () => {
    const page = await signIn(logins.operator);
    await page.goto(`${stack.baseUrl}/devices/0003_MSAN`);
    await page.getByRole('textbox', { name: 'Notes' }).fill('no antenna');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await stack.call('GET', '/api/devices/0003_MSAN')).body).toMatchObject({ notes: 'no antenna' });

    await page.getByRole('link', { name: 'Outages' }).click();
    await page.locator('[data-testid="outage-table"] tbody tr').first().waitFor({ timeout: 10_000 });
    await shot(page, '5-outages');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('outages-csv').click()]);
    expect(download.suggestedFilename()).toBe('outages.csv');
    const csv = readFileSync((await download.path()) as string, 'utf8');
    const [header, ...rows] = csv.trim().split(/\r?\n/);
    expect(header).toContain('device');
    expect(rows.some((r) => r.includes('0003_MSAN') && r.split(',').includes('3'))).toBe(true);
    await page.context().close();
  });

  it('shows the line 3 alert live with its SMS status, and acknowledges it', async () => {
    const page = await signIn(logins.operator);
    await page.getByRole('link', { name: 'Alerts' }).click();
    const active = page.getByTestId('alerts-active');
    await active.locator('text=line 3').waitFor({ timeout: 15_000 });
    await active.locator('td.small div').first().waitFor({ timeout: 15_000 });
    await shot(page, '6-alerts');
    await active.getByRole('button', { name: 'Acknowledge' }).first().click();
    await active.locator('text=acknowledged').waitFor();
    const alerts = (await stack.call('GET', '/api/alerts?status=active')).body as { items: { status: string }[] };
    expect(alerts.items[0]?.status).toBe('ACTIVE_ACK');
    await page.context().close();
  });

  it('renders the reports page, and the fleet on a phone', async () => {
    const page = await signIn(logins.operator);
    await page.getByRole('link', { name: 'Reports' }).click();
    // The region the devices are in, with its indices, in the table and the chart.
    await page.locator('[data-testid="reliability-table"] td', { hasText: 'Western' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('reliability-chart').locator('text=Western').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('reports-csv').click()]);
    expect(readFileSync((await download.path()) as string, 'utf8')).toContain('Western');
    await shot(page, '7-reports');
    // Phone-sized fleet view for field engineers.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByTestId('device-table').waitFor();
    await shot(page, '8-fleet-phone');
    await page.context().close();
  });

  it('keeps 10,000 devices on the map to a bounded number of DOM markers', async () => {
    const page = await signIn(logins.operator);
    // A synthetic fleet spread over Sri Lanka, served in place of /api/status.
    const devices = Array.from({ length: 10_000 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: `${String(i).padStart(4, '0')}_MSAN`,
      region: `Region ${i % 9}`,
      latitude: 6 + ((i * 7919) % 3000) / 1000,
      longitude: 79.7 + ((i * 104_729) % 2100) / 1000,
      active: i % 50 !== 0,
      lastActivityAt: new Date().toISOString(),
      volts: 225,
      openOutages: i % 97 === 0 ? 1 : 0,
      lines: Array.from({ length: 8 }, (_, l) => ({
        line: l + 1,
        label: `L${l + 1}`,
        state: i % 97 === 0 && l === 2 ? 'unpowered' : 'powered',
        since: null,
      })),
    }));
    const body = JSON.stringify({ counters: {}, devices });
    await page.route(/\/api\/status$/, (r) => r.fulfill({ contentType: 'application/json', body }));
    // /api/status carries no positions: the map reads them from the registry, 1,000 a page.
    await page.route(/\/api\/devices\?limit=1000&offset=\d+$/, (r) => {
      const offset = Number(new URL(r.request().url()).searchParams.get('offset'));
      const items = devices
        .slice(offset, offset + 1000)
        .map(({ id, latitude, longitude }) => ({ id, latitude, longitude }));
      return r.fulfill({ contentType: 'application/json', body: JSON.stringify({ items, total: devices.length }) });
    });
    // As from an API without the compact route: the dashboard falls back to /api/status.
    await page.route(/\/api\/status\/compact/, (r) =>
      r.fulfill({ status: 404, contentType: 'application/json', body: '{}' }),
    );
    const started = Date.now();
    await page.reload();
    await expect.poll(() => page.getByTestId('count-active').textContent(), { timeout: 20_000 }).toContain('9800');
    const loadMs = Date.now() - started;
    // The map draws on the next animation frame after the counters: wait for its first draw.
    await expect.poll(() => page.locator('.leaflet-marker-icon').count(), { timeout: 20_000 }).toBeGreaterThan(0);
    const markers = await page.locator('.leaflet-marker-icon').count();
    expect(markers).toBeLessThan(300);
    // Zoom in step by step: each redraw only touches what is in view.
    for (let i = 0; i < 4; i++) {
      await page.locator('.leaflet-control-zoom-in').click();
      await page.waitForTimeout(400);
    }
    const perf = await page.evaluate(() => {
      const ms = (name: string) => performance.getEntriesByName(name).map((e) => Math.round(e.duration));
      return { index: ms('spms:map-index'), redraw: ms('spms:map-redraw') };
    });
    expect(perf.redraw.length).toBeGreaterThan(3);
    await page.screenshot({ path: `${ARTIFACTS}9-fleet-10k.png` });
    console.info(
      `10k devices: counters after ${loadMs} ms (reload incl.), ${markers} DOM markers; index builds ${perf.index.join('/')} ms; map redraws ${perf.redraw.join('/')} ms`,
    );
    await page.context().close();
  });

  it('admin pages: recipients and a shown-once API key; a viewer reads recipients, no admin navigation', async () => {
    const password = 'admin-password-123';
    expect((await stack.call('POST', '/api/users', { username: 'admin1', password, role: 'admin' })).status).toBe(201);
    const page = await signIn({ username: 'admin1', password });
    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('[data-testid="users-table"] tr[data-user="viewer1"]').waitFor();
    await shot(page, '10-users');

    // Recipients: the API's refusal is shown inline; a national-form number is normalized.
    await page.getByRole('link', { name: 'Recipients' }).click();
    await page.locator('tr[data-recipient="NOC duty"]').waitFor();
    const form = page.getByTestId('recipient-create-form');
    await form.getByLabel('Name', { exact: true }).fill('Field crew');
    await form.getByLabel('Phone').fill('12345');
    await form.getByRole('button', { name: 'Add recipient' }).click();
    await expect.poll(() => page.getByTestId('recipients-msg').textContent()).toContain('Not saved: phone');
    await form.getByLabel('Phone').fill('077 765 4321');
    await form.getByLabel('Device offline').check();
    await form.getByLabel('Quiet hours from').fill('22:00');
    await form.getByLabel('Quiet hours until').fill('06:00');
    await form.getByRole('button', { name: 'Add recipient' }).click();
    const row = page.locator('tr[data-recipient="Field crew"]');
    await row.waitFor();
    expect(await row.textContent()).toContain('+94777654321');
    expect(await row.textContent()).toContain('22:00–06:00');
    // E-mail only: no phone needed; the stack's workers have no SMTP_URL, and the page says so.
    await form.getByLabel('Name', { exact: true }).fill('Planner');
    await form.getByLabel('Alerts by').selectOption('email');
    await form.locator('input[name="email"]').fill('planner@example.lk');
    await form.getByRole('button', { name: 'Add recipient' }).click();
    const mailRow = page.locator('tr[data-recipient="Planner"]');
    await mailRow.waitFor();
    expect(await mailRow.textContent()).toContain('planner@example.lk');
    expect(await mailRow.textContent()).toContain('e-mail is off');
    expect(await page.getByTestId('recipients-msg').textContent()).toContain('Warning: e-mail is off');
    await shot(page, '11-recipients');

    // API key: shown once, works, and is gone after a reload.
    await page.getByRole('link', { name: 'API keys' }).click();
    const keyForm = page.getByTestId('api-key-create-form');
    await keyForm.getByLabel('Key name').fill('wall screen');
    await keyForm.getByLabel('Role').selectOption('viewer');
    await keyForm.getByRole('button', { name: 'Create key' }).click();
    const issued = page.getByTestId('issued-key');
    await issued.waitFor();
    expect(await issued.textContent()).toContain('you will not see it again');
    const key = (await issued.locator('pre').textContent())?.trim() ?? '';
    expect(key.length).toBeGreaterThan(20);
    expect((await stack.call('GET', '/api/recipients', undefined, key)).status).toBe(200);
    await page.locator('tr[data-key="wall screen"]').waitFor();
    await shot(page, '12-api-keys');
    await page.reload();
    await page.locator('tr[data-key="wall screen"]').waitFor();
    expect(await page.content()).not.toContain(key);
    await page.context().close();

    const viewer = await signIn(logins.viewer);
    expect(await viewer.getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await viewer.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await viewer.getByRole('link', { name: 'Recipients' }).click();
    await viewer.locator('tr[data-recipient="Field crew"]').waitFor();
    await viewer.getByTestId('recipients-readonly').waitFor();
    expect(await viewer.getByRole('button', { name: /Edit|Delete|Add recipient/ }).count()).toBe(0);
    await viewer.setViewportSize({ width: 390, height: 844 });
    await shot(viewer, '13-recipients-viewer-phone');
    await viewer.context().close();
  });

  it('serves the dashboard: SPA fallback, long-cached hashed assets, JSON 404 under /api', async () => {
    const deep = await fetch(`${stack.baseUrl}/devices/0003_MSAN`);
    expect(deep.status).toBe(200);
    expect(deep.headers.get('cache-control')).toBe('no-cache');
    const html = await deep.text();
    expect(html).toContain('<div id="app">');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${stack.baseUrl}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    const apiMiss = await fetch(`${stack.baseUrl}/api/no-such-thing`);
    expect(apiMiss.status).toBe(404);
    expect(apiMiss.headers.get('content-type')).toContain('application/json');
    expect((await fetch(`${stack.baseUrl}/assets/missing-abc.js`)).status).toBe(404);
    // Runtime settings: the file's tile server, the API's fleet zone.
    const config = (await (await fetch(`${stack.baseUrl}/config.json`)).json()) as Record<string, unknown>;
    expect(config).toMatchObject({ timeZone: 'Asia/Colombo' });
    expect(config.tileUrl).toEqual(expect.stringContaining('{z}'));
  });

  it('breaks no Content-Security-Policy rule on any page it visited', () => {
    expect(cspViolations).toEqual([]);
  });
});
