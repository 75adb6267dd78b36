import { describe, expect, it } from 'vitest';
import {
  formatDeviceOfflineSms,
  formatDuration,
  formatFlappingNotice,
  formatGroupSummary,
  formatLocalTime,
  formatOutageSms,
  formatRestorationSms,
} from './format.js';
import { smsSegments } from './segments.js';

// 08:35 UTC is 14:05 in Colombo (UTC+05:30).
const since = new Date('2026-11-27T08:35:00Z');
const restoredAt = new Date('2026-11-27T09:47:00Z');
const longName =
  'Sri Jayawardenepura Kotte Municipal Council Ward 14 Pump Station (North Annex), behind the old bus depot, Rajagiriya Road';

describe('formatLocalTime / formatDuration', () => {
  it('shows Colombo time, crossing midnight with the date', () => {
    expect(formatLocalTime(since)).toBe('27 Nov 14:05');
    expect(formatLocalTime(new Date('2026-11-27T18:30:00Z'))).toBe('28 Nov 00:00');
    expect(formatLocalTime(since, 'UTC')).toBe('27 Nov 08:35');
  });

  it('writes durations the way operators say them', () => {
    expect(formatDuration(45_000)).toBe('45 s');
    expect(formatDuration(59_600)).toBe('1 min');
    expect(formatDuration(12 * 60_000)).toBe('12 min');
    expect(formatDuration(72 * 60_000)).toBe('1 h 12 min');
    expect(formatDuration(2 * 3_600_000)).toBe('2 h');
    expect(formatDuration(51 * 3_600_000)).toBe('2 d 3 h');
    expect(formatDuration(-5)).toBe('0 s');
  });
});

describe('alert texts', () => {
  it('outage and restoration say site, line, what happened and when', () => {
    expect(formatOutageSms({ site: 'Kollupitiya', line: 'CEB', since })).toBe(
      'SPMS ALERT: Kollupitiya - CEB supply lost 27 Nov 14:05',
    );
    expect(formatRestorationSms({ site: 'Kollupitiya', line: 'CEB', since, restoredAt })).toBe(
      'SPMS OK: Kollupitiya - CEB restored after 1 h 12 min (27 Nov 15:17)',
    );
  });

  it('group summary counts sites and lists as many names as fit one segment', () => {
    const sites = ['Kollupitiya', 'Borella', 'Dehiwala', 'Nugegoda', 'Maharagama', 'Kottawa', 'Homagama', 'Moratuwa'];
    const text = formatGroupSummary({ region: 'Western', count: 37, line: 'CEB', since, sites });
    expect(text.startsWith('SPMS ALERT: Western: 37 sites lost CEB supply since 27 Nov 14:05 (Kollupitiya, ')).toBe(
      true,
    );
    expect(text).toMatch(/, \+\d+ more\)$/);
    expect(smsSegments(text)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    expect(formatGroupSummary({ region: 'Western', count: 1, line: 'CEB', since, sites: ['Borella'] })).toBe(
      'SPMS ALERT: Western: 1 site lost CEB supply since 27 Nov 14:05 (Borella)',
    );
  });

  it('flapping and offline notices', () => {
    expect(formatFlappingNotice({ site: 'Kollupitiya', line: 'CEB', changes: 12, windowMs: 30 * 60_000 })).toBe(
      'SPMS: Kollupitiya - CEB is flapping (12 changes in 30 min). Alerts held until it settles.',
    );
    expect(formatDeviceOfflineSms({ site: 'Kollupitiya', since })).toBe(
      'SPMS ALERT: Kollupitiya monitor offline since 27 Nov 14:05 (power or 4G lost). Line states unknown.',
    );
  });

  it('shortens long names, never the facts, to stay in one GSM-7 segment', () => {
    const texts = [
      formatOutageSms({ site: longName, line: 'Generator backup feeder from the east annex', since }),
      formatRestorationSms({ site: longName, line: 'CEB', since, restoredAt }),
      formatFlappingNotice({ site: longName, line: 'CEB', changes: 120, windowMs: 3_600_000 }),
      formatDeviceOfflineSms({ site: longName, since }),
      formatGroupSummary({ region: longName, count: 1234, line: 'CEB', since, sites: [longName, longName] }),
    ];
    for (const t of texts) expect(smsSegments(t)).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    expect(texts[1]).toMatch(/^SPMS OK: Sri Jayawardenepura .*\.\. - CEB restored after 1 h 12 min \(27 Nov 15:17\)$/);
    expect(texts[3]).toContain('..');
    // A runaway line label is capped too, so the event itself always shows.
    expect(texts[0]).toMatch(/ - Generator backup f\.\. supply lost 27 Nov 14:05$/);
  });

  it('cleans pasted punctuation so a curly apostrophe does not halve the length limit', () => {
    const text = formatOutageSms({ site: 'St\u2019 Mary\u2019s  Road \u2013 East', line: 'CEB', since });
    expect(text).toBe("SPMS ALERT: St' Mary's Road - East - CEB supply lost 27 Nov 14:05");
    expect(smsSegments(text).encoding).toBe('GSM-7');
  });

  it('keeps a Sinhala site name within one UCS-2 segment (70 units)', () => {
    const text = formatRestorationSms({ site: 'කොළඹ කොටුව ප්‍රධාන උපපොළ අංක 2', line: 'CEB', since, restoredAt });
    expect(smsSegments(text)).toMatchObject({ encoding: 'UCS-2', segments: 1 });
    expect(text).toContain('restored after 1 h 12 min (27 Nov 15:17)');
  });
});
