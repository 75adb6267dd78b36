import { startSmtpSink } from '@spms/testing';
import { describe, expect, it } from 'vitest';
import {
  classifySmtpError,
  composeAlertEmail,
  createMailer,
  EmailAddressError,
  normalizeEmail,
  sendEmail,
} from './index.js';
import { duePeriods, lastCompletePeriod } from './periods.js';

const TZ = 'Asia/Colombo'; // UTC+05:30
const at = (iso: string) => Date.parse(iso);

describe('report periods on the local calendar', () => {
  it('the month before the local date, from local midnight on the 1st', () => {
    // 2026-12-01 00:10 in Colombo is still 30 November in UTC.
    const p = lastCompletePeriod('monthly', at('2026-11-30T18:40:00Z'), TZ);
    expect(p).toMatchObject({ key: 'monthly:2026-11', label: 'November 2026', firstDay: '2026-11-01' });
    expect(new Date(p.from).toISOString()).toBe('2026-10-31T18:30:00.000Z');
    expect(new Date(p.to).toISOString()).toBe('2026-11-30T18:30:00.000Z');
    // Ten minutes earlier (23:50 on the 30th, local) November has not ended.
    expect(lastCompletePeriod('monthly', at('2026-11-30T18:20:00Z'), TZ).key).toBe('monthly:2026-10');
    expect(lastCompletePeriod('monthly', at('2027-01-15T00:00:00Z'), TZ).key).toBe('monthly:2026-12');
  });

  it('the Monday-to-Sunday week before the local date', () => {
    // Monday 2026-11-30 00:05 local.
    const p = lastCompletePeriod('weekly', at('2026-11-29T18:35:00Z'), TZ);
    expect(p).toMatchObject({ key: 'weekly:2026-11-23', label: 'week of Mon 23 Nov 2026' });
    expect(p.to - p.from).toBe(7 * 86_400_000);
    // Sunday 23:55 local: still the week before.
    expect(lastCompletePeriod('weekly', at('2026-11-29T18:25:00Z'), TZ).key).toBe('weekly:2026-11-16');
  });

  it('owes only periods that ended after the subscription was created', () => {
    const now = at('2026-12-02T06:00:00Z');
    expect(duePeriods({ monthly: true, weekly: true, createdAt: at('2026-12-01T06:00:00Z') }, now, TZ)).toEqual([]);
    const due = duePeriods({ monthly: true, weekly: true, createdAt: at('2026-10-01T00:00:00Z') }, now, TZ);
    expect(due.map((p) => p.key)).toEqual(['monthly:2026-11', 'weekly:2026-11-23']);
  });
});

describe('e-mail addresses', () => {
  it('keeps one plain mailbox with its domain in lower case', () => {
    expect(normalizeEmail(' Ops.Team+spms@Example.LK ')).toBe('Ops.Team+spms@example.lk');
  });
  it.each([
    ['', /required/],
    ['ops', /not an e-mail address/],
    ['ops@localhost', /not a valid domain/],
    ['a b@example.com', /not a valid mailbox/],
    ['ops@example.com\r\nBcc: x@evil.com', /not a valid/],
    ['x@example.com, y@example.com', /not a valid/],
    ['Ops <ops@example.com>', /not a valid/],
  ])('refuses %j', (input, message) => {
    expect(() => normalizeEmail(input)).toThrow(EmailAddressError);
    expect(() => normalizeEmail(input)).toThrow(message);
  });
});

describe('SMTP errors', () => {
  it('retries 4xx, connection errors and failed logins; not a refused mailbox', () => {
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 550, response: '550 no such user' })).toEqual({
      retry: false,
      code: 550,
      reason: '550 no such user',
    });
    expect(classifySmtpError({ code: 'EENVELOPE', responseCode: 451, response: '451 try later' }).retry).toBe(true);
    expect(classifySmtpError({ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }).retry).toBe(true);
    expect(classifySmtpError({ code: 'EAUTH', responseCode: 535, response: '535 bad login' }).retry).toBe(true);
  });
});

describe('alert e-mail over SMTP', () => {
  it('arrives with the text as subject and every site in local time', async () => {
    const sink = await startSmtpSink();
    try {
      const mail = composeAlertEmail(
        'SPMS ALERT: Western: 2 sites lost CEB supply since 14:05',
        [
          {
            kind: 'outage',
            site: 'Kollupitiya',
            line: 'CEB',
            region: 'Western',
            since: at('2026-12-03T08:35:00Z'),
            endedAt: null,
          },
          {
            kind: 'outage',
            site: 'Dehiwala',
            line: 'CEB',
            region: 'Western',
            since: at('2026-12-03T08:36:00Z'),
            endedAt: null,
          },
        ],
        { timeZone: TZ },
      );
      const sent = await sendEmail(createMailer(sink.url), {
        from: 'SPMS <spms@example.lk>',
        to: 'ops@example.lk',
        messageId: '<notification-1@spms>',
        ...mail,
      });
      expect(sent.response).toMatch(/^250/);
      expect(sink.messages).toHaveLength(1);
      const m = sink.messages[0];
      expect(m?.subject).toBe('SPMS ALERT: Western: 2 sites lost CEB supply since 14:05');
      expect(m?.to).toEqual(['ops@example.lk']);
      expect(m?.messageId).toBe('<notification-1@spms>');
      expect(m?.text.split('\n')).toEqual([
        'SPMS ALERT: Western: 2 sites lost CEB supply since 14:05',
        '',
        '- Kollupitiya line CEB: power lost, region Western, since 03 Dec 2026 14:05',
        '- Dehiwala line CEB: power lost, region Western, since 03 Dec 2026 14:06',
        '',
        'Times are local (Asia/Colombo).',
        'You get this because you are an SPMS alert recipient; an administrator can change your channel.',
      ]);
    } finally {
      await sink.close();
    }
  });
});
