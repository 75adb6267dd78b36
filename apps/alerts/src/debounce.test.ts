/**
 * Per-device and per-profile alertDebounceSec with ALERT_DEBOUNCE_MS unset, as an install
 * runs (the override once had a default of 60 s that silently replaced every device's own).
 */
import { parseConfig } from '@spms/config';
import { describe, expect, it } from 'vitest';
import { AlertsConfigSchema } from './config.js';
import { harness, waitFor } from './test-support/harness.js';

describe('alert debounce without the global override', () => {
  it('has no default for ALERT_DEBOUNCE_MS', () => {
    expect(parseConfig(AlertsConfigSchema, {}).ALERT_DEBOUNCE_MS).toBeUndefined();
  });

  it("waits each device's own debounce, else its profile's", async () => {
    const h = await harness({ ALERT_DEBOUNCE_MS: undefined, ALERT_GROUP_WINDOW_MS: '0' });
    const quick = await h.device('Kollupitiya');
    const slow = await h.device('Borella'); // the default profile: 60 s
    await h.pool.query('UPDATE devices SET alert_debounce_sec = 1 WHERE id = $1', [quick]);
    await h.recipient();
    await h.start();
    await h.open(slow, 1);
    await h.open(quick, 1);
    await waitFor(() => h.twilio.requests.length >= 1, 15_000);
    expect(h.bodies()).toHaveLength(1);
    expect(h.bodies()[0]).toMatch(/^SPMS ALERT: Kollupitiya - CEB supply lost /);
    const { rows } = await h.pool.query<{ device_id: string; waited: number | null }>(
      `SELECT device_id, (extract(epoch from notified_at - started_at) * 1000)::float8 AS waited FROM alerts`,
    );
    const waited = new Map(rows.map((r) => [r.device_id, r.waited]));
    expect(waited.get(quick)).toBeGreaterThanOrEqual(1000);
    expect(waited.get(slow)).toBeNull(); // still inside its profile's 60 s
  });
});
