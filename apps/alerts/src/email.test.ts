/**
 * Alert e-mails through a local SMTP server (smtp-server, real SMTP over a socket): the same
 * grouped message as the text, delivery recorded with the server's reply, retries while the
 * server is down, a refused mailbox failing at once, quiet hours per recipient, and the
 * channel off without SMTP_URL.
 */
import { type SmtpSink, startSmtpSink } from '@spms/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, quietAroundNow, sleep, waitFor } from './test-support/harness.js';

let sinks: SmtpSink[] = [];
afterEach(async () => {
  for (const s of sinks) await s.close();
  sinks = [];
});
const sink = async () => {
  const s = await startSmtpSink();
  sinks.push(s);
  return s;
};

type H = Awaited<ReturnType<typeof harness>>;
const onEmail = (h: H, id: string, channel: 'email' | 'both', email = 'ops@example.lk') =>
  h.pool.query('UPDATE alert_recipients SET channel = $2, email = $3 WHERE id = $1', [id, channel, email]);
const rows = async (h: H) =>
  (
    await h.pool.query(
      'SELECT id::text, channel, phone, email, subject, kind, status, reason, attempts, error_code, response FROM notifications ORDER BY id',
    )
  ).rows;
const history = async (h: H, id: string) =>
  (
    await h.pool.query(
      'SELECT status, error_code FROM notification_status_history WHERE notification_id = $1 ORDER BY id',
      [id],
    )
  ).rows;
const env = (smtpUrl: string) => ({ SMTP_URL: smtpUrl, SMTP_FROM: 'SPMS <spms@example.lk>', EMAIL_BACKOFF_MS: '100' });

describe('alert e-mails', () => {
  it('a recipient on both channels gets the grouped text and an e-mail saying the same, with every site', async () => {
    const smtp = await sink();
    const h = await harness(env(smtp.url));
    const a = await h.device('Kollupitiya');
    const b = await h.device('Dehiwala');
    await onEmail(h, await h.recipient(), 'both');
    await h.start();
    await h.open(a, 1);
    await h.open(b, 1);
    await waitFor(() => smtp.messages.length >= 1 && h.twilio.requests.length >= 1);
    await sleep(300);
    expect(smtp.messages).toHaveLength(1);
    const [text] = h.bodies();
    const m = smtp.messages[0];
    expect(text).toMatch(/^SPMS ALERT: Western: 2 sites lost CEB supply/);
    expect(m?.subject).toBe(text);
    expect(m?.to).toEqual(['ops@example.lk']);
    expect(m?.from).toBe('spms@example.lk');
    const lines = m?.text.split('\n') ?? [];
    expect(lines[0]).toBe(text);
    expect(lines.filter((l) => l.startsWith('- '))).toEqual([
      expect.stringMatching(/^- Kollupitiya line CEB: power lost, region Western, since \d\d \w{3} \d{4} \d\d:\d\d$/),
      expect.stringMatching(/^- Dehiwala line CEB: power lost, region Western, since \d\d \w{3} \d{4} \d\d:\d\d$/),
    ]);
    expect(m?.text).toContain('Times are local (Asia/Colombo).');
    await waitFor(async () => (await rows(h)).some((r) => r.channel === 'email' && r.status === 'sent'));
    const all = await rows(h);
    expect(all.map((r) => [r.channel, r.kind])).toEqual([
      ['sms', 'outage'],
      ['email', 'outage'],
    ]);
    const mail = all[1];
    expect(mail).toMatchObject({ email: 'ops@example.lk', phone: null, subject: text, attempts: 1, error_code: null });
    expect(mail?.response).toMatch(/^250 /);
    expect(m?.messageId).toBe(`<spms-notification-${mail?.id}@spms.local>`);
    expect(await history(h, mail?.id)).toEqual([
      { status: 'pending', error_code: null },
      { status: 'sent', error_code: null },
    ]);
    // Both covered the same alerts.
    const covered = await h.pool.query(
      'SELECT notification_id::text, count(*)::int AS n FROM notification_alerts GROUP BY 1 ORDER BY 1',
    );
    expect(covered.rows.map((r) => r.n)).toEqual([2, 2]);
  });

  it('SMTP down: retried with back-off, then delivered once', async () => {
    const smtp = await sink();
    await smtp.stop();
    const h = await harness(env(smtp.url));
    const d = await h.device('Kollupitiya');
    await onEmail(h, await h.recipient(), 'email');
    await h.start();
    await h.open(d, 1);
    await waitFor(async () => {
      const mail = (await rows(h)).find((r) => r.channel === 'email');
      return mail ? (await history(h, mail.id)).filter((x) => x.status === 'retrying').length >= 2 : false;
    });
    await smtp.start();
    await waitFor(async () => (await rows(h)).some((r) => r.status === 'sent'), 15_000);
    await sleep(300);
    expect(smtp.messages).toHaveLength(1);
    expect(h.twilio.requests).toHaveLength(0); // e-mail only
    const [mail] = await rows(h);
    expect(mail).toMatchObject({ channel: 'email', status: 'sent', error_code: null });
    const hist = (await history(h, mail?.id)).map((x) => x.status);
    expect(hist[0]).toBe('pending');
    expect(hist.at(-1)).toBe('sent');
    expect(hist.slice(1, -1).every((s) => s === 'retrying')).toBe(true);
    expect(mail?.attempts).toBe(hist.length - 1);
  });

  it('an e-mail left without its job (a crash between COMMIT and enqueue) is sent once after restarts', async () => {
    const smtp = await sink();
    const h = await harness(env(smtp.url));
    const r = await h.recipient();
    await onEmail(h, r, 'email');
    const inserted = await h.pool.query<{ id: string }>(
      `INSERT INTO notifications (recipient_id, channel, email, subject, kind, body, status, created_at)
       VALUES ($1, 'email', 'ops@example.lk', 'SPMS ALERT: stranded', 'outage', 'body', 'pending', now() - interval '2 minutes')
       RETURNING id::text`,
      [r],
    );
    const first = await h.start();
    await waitFor(() => smtp.messages.length >= 1);
    await first.close();
    await h.start(); // a restart finds nothing pending any more
    await h.start(); // …nor does a second process
    await sleep(800);
    expect(smtp.messages.map((m) => m.subject)).toEqual(['SPMS ALERT: stranded']);
    expect((await rows(h)).find((n) => n.id === inserted.rows[0]?.id)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('the cap counts e-mails like texts: past the limit, one overflow summary by e-mail', async () => {
    const smtp = await sink();
    const h = await harness({ ...env(smtp.url), ALERT_MAX_PER_HOUR: '2', ALERT_CAP_WINDOW_MS: '3000' });
    // No region: each device is its own group, so each outage is its own message.
    const devs = [];
    for (let i = 0; i < 5; i++) devs.push(await h.device(`Site ${i}`, null));
    await onEmail(h, await h.recipient(), 'email');
    await h.start();
    // Start just after a cap window begins, so all five land in one window.
    await sleep(3000 - (Date.now() % 3000) + 20);
    for (const d of devs) await h.open(d, 1);
    await waitFor(() => smtp.messages.length >= 3, 10_000);
    await sleep(300);
    const subjects = smtp.messages.map((m) => m.subject);
    expect(subjects).toHaveLength(3);
    expect(subjects.filter((t) => t.startsWith('SPMS ALERT: Site '))).toHaveLength(2);
    expect(subjects).toContain('SPMS: 3 more alerts not e-mailed (limit 2 per 3 s). See the dashboard.');
    const all = await rows(h);
    expect(all.filter((r) => r.status === 'suppressed' && r.reason === 'cap')).toHaveLength(3);
    expect(all.every((r) => r.channel === 'email')).toBe(true);
    expect(h.twilio.requests).toHaveLength(0);
  });

  it('a refused mailbox (550) fails at once with the server’s code and reply', async () => {
    const smtp = await sink();
    smtp.refuseRecipients(550, 'no such user here');
    const h = await harness(env(smtp.url));
    const d = await h.device('Kollupitiya');
    await onEmail(h, await h.recipient(), 'email');
    await h.start();
    await h.open(d, 1);
    await waitFor(async () => (await rows(h)).some((r) => r.status === 'failed'));
    await sleep(400);
    const [mail] = await rows(h);
    expect(mail).toMatchObject({ channel: 'email', status: 'failed', attempts: 1, error_code: 550 });
    expect(mail?.response).toMatch(/550.*no such user here/);
    expect(smtp.messages).toHaveLength(0);
  });

  it('quiet hours hold back an e-mail like a text; without SMTP_URL e-mails are recorded as not sent', async () => {
    const h = await harness({ SMTP_URL: undefined });
    const d = await h.device('Kollupitiya');
    const quiet = await h.recipient({ name: 'Night', ...quietAroundNow() });
    await onEmail(h, quiet, 'email', 'night@example.lk');
    await onEmail(h, await h.recipient({ name: 'Day' }), 'both', 'day@example.lk');
    await h.start();
    await h.open(d, 2); // generator line: not critical, so quiet hours apply
    await waitFor(async () => (await rows(h)).length >= 3);
    await waitFor(() => h.twilio.requests.length >= 1);
    // The text's row is marked once Twilio's answer has arrived.
    await waitFor(async () => (await rows(h)).every((r) => r.status !== 'pending'));
    const all = (await rows(h)).map((r) => [r.email ?? r.phone, r.channel, r.status, r.reason]);
    expect(all).toEqual(
      expect.arrayContaining([
        ['night@example.lk', 'email', 'suppressed', 'quiet_hours'],
        ['+94771234567', 'sms', expect.stringMatching(/queued|sent/), null],
        ['day@example.lk', 'email', 'suppressed', 'email_off'],
      ]),
    );
    expect(all).toHaveLength(3);
  });
});
