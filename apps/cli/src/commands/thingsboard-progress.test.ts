import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration } from './thingsboard-progress.js';

describe('import progress, plain lines (not a terminal)', () => {
  it('one line per phase start, at most one per interval with rate and ETA, and one at the end', () => {
    let t = 1_000_000;
    const lines: string[] = [];
    const p = createProgress({ write: (l) => lines.push(l), tty: null, now: () => t, intervalMs: 5000 });
    const devices = p.phase('devices', 'devices', null);
    devices.setTotal(40);
    t += 2000;
    devices.tick(10, 'page 1'); // first tick: printed
    t += 2000;
    devices.tick(10); // within 5 s of the last line: not printed
    t += 4000;
    devices.tick(10, 'page 3');
    t += 2000;
    devices.tick(10);
    devices.done('40 to import of 40 listed');
    p.log('warning: device "X" is not in ThingsBoard');
    const history = p.phase('history', 'device-days', 300);
    t += 60_000;
    history.tick(100, 'TB_A: 12000 readings');
    history.done('36000 readings');
    expect(lines).toEqual([
      'devices: started',
      'devices: 10/40 devices (25%), 5.0 devices/s, ETA 6s — page 1',
      'devices: 30/40 devices (75%), 3.8 devices/s, ETA 3s — page 3',
      'devices: done in 10s — 40 to import of 40 listed',
      'warning: device "X" is not in ThingsBoard',
      'history: started (300 device-days)',
      'history: 100/300 device-days (33%), 1.7 device-days/s, ETA 2m00s — TB_A: 12000 readings',
      'history: done in 1m00s — 36000 readings',
    ]);
  });

  it('formats durations', () => {
    expect([formatDuration(12), formatDuration(75), formatDuration(3725), formatDuration(Number.NaN)]).toEqual([
      '12s',
      '1m15s',
      '1h02m',
      '?',
    ]);
  });
});
