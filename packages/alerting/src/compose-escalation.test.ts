import { fitsOneSegment } from '@spms/sms/text';
import { describe, expect, it } from 'vitest';
import { composeTexts, escalationMarker, type PendingItem } from './index.js';

// 27 Nov 2026 14:05 Asia/Colombo = 08:35 UTC
const T = Date.UTC(2026, 10, 27, 8, 35);
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

describe('escalation texts', () => {
  it('tier 1 (told with the alert) reads like any alert', () => {
    expect(composeTexts([item(1, { escalation: 1 })])[0]?.body).toBe(
      'SPMS ALERT: Site 1 - CEB supply lost 27 Nov 14:05',
    );
  });

  it('a tier 2 text says it is an escalation, in one segment', () => {
    const [t] = composeTexts([item(1, { escalation: 2 })]);
    expect(t?.body).toBe('ESCALATED (tier 2): SPMS ALERT: Site 1 - CEB supply lost 27 Nov 14:05');
    const [v] = composeTexts([item(2, { kind: 'voltage', voltage: 'under', escalation: 3 })]);
    expect(v?.body).toBe('ESCALATED (tier 3): SPMS ALERT: Site 2 - under-voltage since 27 Nov 14:05');
    const [o] = composeTexts([item(3, { kind: 'device_offline', line: null, escalation: 2 })]);
    expect(o?.body).toMatch(/^ESCALATED \(tier 2\): SPMS ALERT: Site 3 /);
    expect(fitsOneSegment(o?.body ?? '')).toBe(true);
  });

  it('a long site name is shortened, never the marker, to stay one segment', () => {
    const site = 'Kollupitiya Telecom Exchange and Regional Switching Centre Building Number Two, Colombo 03';
    const [t] = composeTexts([item(1, { site, line: 'Generator backup feed', escalation: 2 })]);
    expect(t?.body).toMatch(
      /^ESCALATED \(tier 2\): SPMS ALERT: Kollupitiya .*\.\. - Generator backup f\.\. supply lost/,
    );
    expect(fitsOneSegment(t?.body ?? '')).toBe(true);
  });

  it('a grouped text says so once: the share of escalated alerts and their tiers', () => {
    const all = composeTexts([item(1, { escalation: 2 }), item(2, { escalation: 2 })]);
    expect(all).toHaveLength(1);
    expect(all[0]?.body).toMatch(/^ESCALATED \(tier 2\): SPMS ALERT: Western: 2 sites lost CEB supply/);
    const mixed = composeTexts([item(1, { escalation: 2 }), item(2, { escalation: 3 }), item(3)]);
    expect(mixed[0]?.body).toMatch(/^ESCALATED \(2 of 3, tiers 2-3\): SPMS ALERT: Western: 3 sites lost CEB/);
    expect(mixed[0]?.body.match(/ESCALATED/g)).toHaveLength(1);
    for (const t of mixed) expect(fitsOneSegment(t.body)).toBe(true);
  });

  it('a storm of escalations stays one segment, site names listed only while they fit', () => {
    const storm = Array.from({ length: 37 }, (_, i) =>
      item(i, { site: `Substation number ${i}`, escalation: 2 + (i % 2) }),
    );
    const [t] = composeTexts(storm);
    expect(t?.body).toMatch(/^ESCALATED \(tiers 2-3\): SPMS ALERT: Western: 37 sites lost CEB supply since/);
    expect(fitsOneSegment(t?.body ?? '')).toBe(true);
  });

  it('restorations carry no marker; the marker has a short form', () => {
    const [r] = composeTexts([item(1, { kind: 'restoration', endedAt: T + 60_000 })]);
    expect(r?.body).toMatch(/^SPMS OK: /);
    expect(escalationMarker([item(1, { escalation: 2 }), item(2, { escalation: 4 })], true)).toBe('ESCALATED T2-4:');
    expect(escalationMarker([item(1)])).toBe('');
  });
});
