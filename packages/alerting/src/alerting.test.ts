import { describe, expect, it } from 'vitest';
import {
  composeTexts,
  debounceDelayMs,
  decideCap,
  decideFlapping,
  isQuietTime,
  matchesRecipient,
  type PendingItem,
  type RecipientRule,
  severityOf,
} from './index.js';

const rule = (over: Partial<RecipientRule> = {}): RecipientRule => ({
  id: 'r1',
  enabled: true,
  scopeKind: 'all',
  scopeValue: null,
  scopeLine: null,
  kinds: ['outage', 'restoration'],
  quietHours: null,
  timeZone: null,
  ...over,
});
const subject = { deviceId: 'd1', line: 1, region: 'Western', customer: 'SLT' };
// 27 Nov 2026 14:05 Asia/Colombo = 08:35 UTC
const T = Date.UTC(2026, 10, 27, 8, 35);

describe('subscriptions', () => {
  it('matches by scope and kind', () => {
    expect(matchesRecipient(rule(), subject, 'outage')).toBe(true);
    expect(matchesRecipient(rule(), subject, 'device_offline')).toBe(false);
    expect(matchesRecipient(rule({ enabled: false }), subject, 'outage')).toBe(false);
    expect(matchesRecipient(rule({ scopeKind: 'region', scopeValue: 'Western' }), subject, 'outage')).toBe(true);
    expect(matchesRecipient(rule({ scopeKind: 'region', scopeValue: 'Southern' }), subject, 'outage')).toBe(false);
    expect(matchesRecipient(rule({ scopeKind: 'customer', scopeValue: 'SLT' }), subject, 'outage')).toBe(true);
    expect(matchesRecipient(rule({ scopeKind: 'device', scopeValue: 'd2' }), subject, 'outage')).toBe(false);
    expect(matchesRecipient(rule({ scopeKind: 'line', scopeValue: 'd1', scopeLine: 2 }), subject, 'outage')).toBe(
      false,
    );
    expect(matchesRecipient(rule({ scopeKind: 'line', scopeValue: 'd1', scopeLine: 1 }), subject, 'outage')).toBe(true);
  });
  it('whole-site and CEB loss are critical', () => {
    expect(severityOf('outage', { utilityFeed: true })).toBe('critical');
    expect(severityOf('outage', { wholeSite: true })).toBe('critical');
    expect(severityOf('outage')).toBe('major');
  });
});

describe('quiet hours', () => {
  it('handles windows across midnight in local time', () => {
    const q = { start: '22:00', end: '06:00' };
    // 14:05 Colombo
    expect(isQuietTime(q, new Date(T))).toBe(false);
    // 23:30 Colombo = 18:00 UTC
    expect(isQuietTime(q, new Date(Date.UTC(2026, 10, 27, 18, 0)))).toBe(true);
    // 05:59 Colombo = 00:29 UTC
    expect(isQuietTime(q, new Date(Date.UTC(2026, 10, 27, 0, 29)))).toBe(true);
    expect(isQuietTime({ start: '13:00', end: '15:00' }, new Date(T))).toBe(true);
    expect(isQuietTime(null, new Date(T))).toBe(false);
  });
});

describe('timing', () => {
  it('debounce delay counts from the outage start, never more than the debounce', () => {
    expect(debounceDelayMs(1000, 60_000, 1000)).toBe(60_000);
    expect(debounceDelayMs(1000, 60_000, 31_000)).toBe(30_000);
    expect(debounceDelayMs(1000, 60_000, 500_000)).toBe(0);
    expect(debounceDelayMs(900_000, 60_000, 1000)).toBe(60_000);
  });
  it('caps: the first one over starts the overflow summary', () => {
    expect([1, 3, 4, 5].map((n) => decideCap(n, 3))).toEqual(['send', 'send', 'overflow', 'suppress']);
  });
});

describe('flapping hysteresis', () => {
  const o = { enterAt: 4, leaveBelow: 2, windowMs: 60_000, quietMs: 10_000 };
  it('enters at N changes in the window, stays between thresholds, leaves when quiet', () => {
    expect(decideFlapping(false, [1, 2, 3], 4, o)).toBe('none');
    expect(decideFlapping(false, [1, 2, 3, 4], 5, o)).toBe('enter');
    expect(decideFlapping(true, [1, 2, 3, 4], 5, o)).toBe('stay');
    // quiet for long enough but still 4 changes in the window: stays
    expect(decideFlapping(true, [1, 2, 3, 4], 20_000, o)).toBe('stay');
    // the window moved on: leaves
    expect(decideFlapping(true, [1, 2, 3, 4], 70_000, o)).toBe('leave');
    // one recent change but not quiet long enough
    expect(decideFlapping(true, [65_000], 70_000, o)).toBe('stay');
  });
});

describe('composeTexts', () => {
  const item = (n: number, over: Partial<PendingItem> = {}): PendingItem => ({
    kind: 'outage',
    alertId: String(n),
    site: `Site ${n}`,
    line: 'CEB',
    region: 'Western',
    since: T + n * 1000,
    endedAt: null,
    ...over,
  });
  it('one outage is one plain text', () => {
    expect(composeTexts([item(1)])).toEqual([
      { kind: 'outage', body: 'SPMS ALERT: Site 1 - CEB supply lost 27 Nov 14:05', alertIds: ['1'] },
    ]);
  });
  it('a regional storm is one summary', () => {
    const texts = composeTexts(Array.from({ length: 37 }, (_, i) => item(i)));
    expect(texts).toHaveLength(1);
    expect(texts[0]?.body).toMatch(/^SPMS ALERT: Western: 37 sites lost CEB supply since 27 Nov 14:05 \(Site 0, /);
    expect(texts[0]?.body.length).toBeLessThanOrEqual(160);
    expect(texts[0]?.alertIds).toHaveLength(37);
  });
  it('an outage and its restoration in one window cancel out', () => {
    const texts = composeTexts([item(1), item(1, { kind: 'restoration', endedAt: T + 90_000 }), item(2)]);
    expect(texts.map((t) => t.alertIds)).toEqual([['2']]);
  });
  it('restoration says how long it took', () => {
    const [t] = composeTexts([item(1, { kind: 'restoration', since: T, endedAt: T + 72 * 60_000 })]);
    expect(t?.body).toBe('SPMS OK: Site 1 - CEB restored after 1 h 12 min (27 Nov 15:17)');
  });
  it('several kinds in one window: one text per kind, summaries per region, all one segment', () => {
    const texts = composeTexts([
      item(1, { kind: 'restoration', since: T, endedAt: T + 600_000 }),
      item(2, { kind: 'restoration', since: T, endedAt: T + 600_000 }),
      item(3, { kind: 'device_offline', line: null }),
      item(4, { kind: 'device_offline', line: null }),
      item(5, { kind: 'flapping', changes: 8, windowMs: 600_000 }),
    ]);
    expect(texts.map((t) => t.body)).toEqual([
      'SPMS: Site 5 - CEB is flapping (8 changes in 10 min). Alerts held until it settles.',
      'SPMS ALERT: Western: 2 monitors offline since 27 Nov 14:05 (Site 3, Site 4)',
      'SPMS OK: Western: 2 sites restored (Site 1, Site 2)',
    ]);
  });
});
