/** Alerts delivery: provider retries and permanent failures, quiet hours, caps, flapping. */
import { describe, expect, it } from 'vitest';
import { harness, quietAroundNow, sleep, waitFor } from './test-support/harness.js';

const notifications = async (h: Awaited<ReturnType<typeof harness>>) =>
  (await h.pool.query('SELECT id, kind, status, reason, attempts, error_code, body FROM notifications ORDER BY id'))
    .rows;

describe('alerts delivery', () => {
  it('retries 5xx and 429 with back-off, then records the message as sent', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    await h.recipient();
    h.twilio.reply({ status: 503 }, { status: 429, code: 20429 });
    await h.start();
    await h.open(d, 1);
    await waitFor(async () => (await notifications(h))[0]?.status === 'queued');
    expect(h.twilio.requests).toHaveLength(3);
    const [n] = await notifications(h);
    expect(n).toMatchObject({ attempts: 3, error_code: null });
    const hist = await h.pool.query('SELECT status, error_code FROM notification_status_history ORDER BY id');
    expect(hist.rows).toEqual([
      { status: 'pending', error_code: null },
      { status: 'retrying', error_code: 503 },
      { status: 'retrying', error_code: 20429 },
      { status: 'queued', error_code: null },
    ]);
  });

  it('a permanent error (invalid number) fails at once with Twilio’s code', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    await h.recipient();
    h.twilio.reply({ status: 400, code: 21211, message: 'invalid To' });
    await h.start();
    await h.open(d, 1);
    await waitFor(async () => (await notifications(h))[0]?.status === 'failed');
    await sleep(300);
    expect(h.twilio.requests).toHaveLength(1);
    expect((await notifications(h))[0]).toMatchObject({ attempts: 1, error_code: 21211 });
  });

  it('quiet hours hold back a generator outage but not a CEB (critical) loss', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    await h.recipient(quietAroundNow());
    await h.start();
    await h.open(d, 2); // generator line: major
    await h.open(d, 1, { utility: true }); // CEB feed: critical
    await waitFor(() => h.twilio.requests.length >= 1);
    await sleep(500);
    expect(h.bodies()).toEqual([expect.stringMatching(/^SPMS ALERT: Kollupitiya - CEB supply lost/)]);
    // The text's row is marked once Twilio's answer has arrived.
    await waitFor(async () => (await notifications(h)).every((r) => r.status !== 'pending'));
    const rows = await notifications(h);
    expect(rows.map((r) => [r.status, r.reason])).toEqual(
      expect.arrayContaining([
        ['suppressed', 'quiet_hours'],
        ['queued', null],
      ]),
    );
  });

  it('caps texts per recipient and sends one overflow summary when the window ends', async () => {
    const h = await harness({ ALERT_MAX_PER_HOUR: '2', ALERT_CAP_WINDOW_MS: '3000' });
    // No region: each device is its own group, so each outage is its own text.
    const devs = [];
    for (let i = 0; i < 5; i++) devs.push(await h.device(`Site ${i}`, null));
    await h.recipient();
    await h.start();
    // Start just after a cap window begins, so all five land in one window.
    await sleep(3000 - (Date.now() % 3000) + 20);
    for (const d of devs) await h.open(d, 1);
    await waitFor(() => h.twilio.requests.length >= 3, 10_000);
    await sleep(300);
    const bodies = h.bodies();
    expect(bodies).toHaveLength(3);
    expect(bodies[2]).toBe('SPMS: 3 more alerts not texted (limit 2 per 3 s). See the dashboard.');
    const rows = await notifications(h);
    expect(rows.filter((r) => r.reason === 'cap')).toHaveLength(3);
  });

  it('a flapping line gets one notice, its alerts are held, and released when it settles', async () => {
    const h = await harness({
      ALERT_FLAP_THRESHOLD: '4',
      ALERT_FLAP_WINDOW_MS: '2500',
      ALERT_FLAP_CLEAR_BELOW: '2',
      ALERT_FLAP_QUIET_MS: '1000',
      ALERT_GROUP_WINDOW_MS: '200',
    });
    const d = await h.device('Kollupitiya');
    await h.recipient();
    await h.start();
    for (let i = 0; i < 2; i++) {
      const m = await h.open(d, 1);
      await sleep(30);
      await h.close(d, 1, m);
      await sleep(30);
    }
    await h.open(d, 1); // stays open
    await waitFor(() => h.twilio.requests.length >= 1);
    expect(h.bodies()[0]).toMatch(
      /^SPMS: Kollupitiya - CEB is flapping \(4 changes in 3 s\)\. Alerts held until it settles\.$/,
    );
    await sleep(1000);
    expect(h.twilio.requests).toHaveLength(1); // held
    await waitFor(() => h.twilio.requests.length >= 2, 8000);
    expect(h.bodies()[1]).toMatch(/^SPMS ALERT: Kollupitiya - CEB supply lost /);
    await sleep(300);
    expect(h.twilio.requests).toHaveLength(2);
  });

  it('a flapping line that settles with power on gets one restoration text', async () => {
    const h = await harness({
      ALERT_FLAP_THRESHOLD: '4',
      ALERT_FLAP_WINDOW_MS: '2500',
      ALERT_FLAP_CLEAR_BELOW: '2',
      ALERT_FLAP_QUIET_MS: '1000',
      ALERT_GROUP_WINDOW_MS: '200',
    });
    const d = await h.device('Kollupitiya');
    await h.recipient();
    await h.start();
    for (let i = 0; i < 2; i++) {
      const m = await h.open(d, 1);
      await sleep(30);
      await h.close(d, 1, m); // ends powered
      await sleep(30);
    }
    await waitFor(() => h.twilio.requests.length >= 1);
    expect(h.bodies()[0]).toMatch(/^SPMS: Kollupitiya - CEB is flapping /);
    await waitFor(() => h.twilio.requests.length >= 2, 8000);
    expect(h.bodies()[1]).toMatch(/^SPMS OK: Kollupitiya - CEB restored after /);
    await sleep(1500); // a second settle check or a retried job must not text again
    expect(h.twilio.requests).toHaveLength(2);
  });
});
