/** Alerts lifecycle beyond outages: offline/online, voltage episodes, removed outages, group interval. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { harness, sleep, waitFor } from './test-support/harness.js';

const ALL = ['outage', 'restoration', 'device_offline', 'device_online', 'voltage'];

describe('alerts lifecycle', () => {
  it('device offline → online and a voltage episode are texted, then cleared with their duration', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    await h.recipient({ kinds: ALL });
    await h.start();
    const last = Date.now() - 120_000;
    await h.emit({
      id: `device.offline/${d}/${last}`,
      type: 'device.offline',
      deviceId: d,
      occurredAt: last + 120_000,
      payload: { lastActivity: last, inactiveAt: last + 120_000, detectedAt: Date.now() },
    });
    await waitFor(() => h.twilio.requests.length >= 1);
    expect(h.bodies()[0]).toMatch(/^SPMS ALERT: Kollupitiya monitor offline since .* \(power or 4G lost\)/);
    await h.emit({
      id: `device.online/${d}/${last}`,
      type: 'device.online',
      deviceId: d,
      occurredAt: last + 180_000,
      payload: { offlineSince: last, at: last + 180_000, spurious: false },
    });
    await waitFor(() => h.twilio.requests.length >= 2);
    expect(h.bodies()[1]).toMatch(/^SPMS OK: Kollupitiya monitor back online after 3 min \(/);

    const msg = randomUUID();
    const episode = (endedAt: number | null) => ({ kind: 'under', startedAt: Date.now(), startMsgId: msg, endedAt });
    await h.emit({
      id: `voltage.episode_opened/${d}/${msg}`,
      type: 'voltage.episode_opened',
      deviceId: d,
      occurredAt: Date.now(),
      payload: { episode: episode(null) },
    });
    await waitFor(() => h.twilio.requests.length >= 3);
    expect(h.bodies()[2]).toMatch(/^SPMS ALERT: Kollupitiya - under-voltage since /);
    await h.emit({
      id: `voltage.episode_closed/${d}/${msg}`,
      type: 'voltage.episode_closed',
      deviceId: d,
      occurredAt: Date.now(),
      payload: { episode: episode(Date.now() + 60_000) },
    });
    await waitFor(() => h.twilio.requests.length >= 4);
    expect(h.bodies()[3]).toMatch(/^SPMS OK: Kollupitiya - Voltage restored after 1 min/);
    const { rows } = await h.pool.query('SELECT type, cleared_at IS NOT NULL AS cleared FROM alerts ORDER BY id');
    expect(rows).toEqual([
      { type: 'device_offline', cleared: true },
      { type: 'voltage', cleared: true },
    ]);
  });

  it('an outage removed by late data is voided and never texted', async () => {
    const h = await harness({ ALERT_DEBOUNCE_MS: '500' });
    const d = await h.device('Kollupitiya');
    await h.recipient();
    await h.start();
    const msg = await h.open(d, 1);
    await waitFor(async () => (await h.pool.query('SELECT 1 FROM alerts')).rowCount === 1);
    await h.pool.query('DELETE FROM outages WHERE start_msg_id = $1', [msg]);
    const started = Date.now();
    await h.emit({
      id: `outage.removed/${d}/1/${msg}`,
      type: 'outage.removed',
      deviceId: d,
      occurredAt: started,
      payload: { outage: { line: 1, startedAt: started, startMsgId: msg, endedAt: null } },
    });
    await sleep(1200);
    expect(h.twilio.requests).toHaveLength(0);
    const { rows } = await h.pool.query('SELECT voided, notified_at FROM alerts');
    expect(rows).toEqual([{ voided: true, notified_at: null }]);
  });

  it('after a text, the next one about the same region waits out the group interval', async () => {
    const h = await harness({ ALERT_GROUP_WINDOW_MS: '200', ALERT_GROUP_INTERVAL_MS: '1500' });
    const a = await h.device('Kollupitiya');
    const b = await h.device('Borella');
    await h.recipient();
    await h.start();
    await h.open(a, 1);
    await waitFor(() => h.twilio.requests.length >= 1);
    const first = Date.now();
    await h.open(b, 1);
    await waitFor(() => h.twilio.requests.length >= 2);
    expect(Date.now() - first).toBeGreaterThanOrEqual(1300);
    expect(h.bodies()[1]).toMatch(/^SPMS ALERT: Borella - CEB supply lost/);
  });
});
