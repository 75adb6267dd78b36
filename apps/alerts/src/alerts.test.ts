/**
 * Alerts end to end: domain events on the real `domain-events` queue (with the outages rows
 * the ingest worker would have written), real PostgreSQL and Redis, and the real Twilio SDK
 * talking to the fake Twilio server.
 */

import type { DomainEvent } from '@spms/contracts';
import { describe, expect, it } from 'vitest';
import { harness, sleep, waitFor } from './test-support/harness.js';

describe('alerts', () => {
  it('debounces, groups a regional storm into one text, never texts a momentary outage, closes the loop', async () => {
    const h = await harness();
    const devs = [await h.device('Kollupitiya'), await h.device('Borella'), await h.device('Dehiwala')];
    const blip = await h.device('Maradana');
    await h.recipient({ scope_kind: 'region', scope_value: 'Western' });
    await h.recipient({ phone: '+94770000000', scope_kind: 'region', scope_value: 'Southern' });
    await h.start();
    const ids = [];
    for (const d of devs) ids.push(await h.open(d, 1));
    const m = await h.open(blip, 1);
    await sleep(100);
    await h.close(blip, 1, m); // momentary: over before the debounce
    await waitFor(() => h.twilio.requests.length >= 1);
    await sleep(500); // a second window would have flushed by now
    expect(h.bodies()).toHaveLength(1);
    expect(h.bodies()[0]).toMatch(/^SPMS ALERT: Western: 3 sites lost CEB supply since \d+ \w+ \d\d:\d\d \(/);
    expect(h.twilio.requests[0]?.form.To).toBe('+94771234567');

    await h.close(devs[0] as string, 1, ids[0] as string);
    await waitFor(() => h.twilio.requests.length >= 2);
    expect(h.bodies()[1]).toMatch(/^SPMS OK: Kollupitiya - CEB restored after \d+ s \(/);
    const alerts = await h.pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE notified_at IS NULL AND cleared_at IS NOT NULL)::int AS momentary FROM alerts`,
    );
    expect(alerts.rows[0]).toEqual({ n: 4, momentary: 1 });
    // Twilio has answered the second text; its row is marked after that answer arrives.
    const sent = () =>
      h.pool.query(
        `SELECT n.status, n.provider_message_id, count(na.alert_id)::int AS alerts FROM notifications n
           JOIN notification_alerts na ON na.notification_id = n.id GROUP BY n.id ORDER BY n.id`,
      );
    await waitFor(async () => (await sent()).rows.every((r) => r.status !== 'pending'));
    const n = await sent();
    expect(n.rows.map((r) => [r.status, r.alerts])).toEqual([
      ['queued', 3],
      ['queued', 1],
    ]);
    expect(n.rows[0].provider_message_id).toMatch(/^SM/);
  });

  it('a debounce pending across a restart of the alerts worker still texts once', async () => {
    const h = await harness({ ALERT_DEBOUNCE_MS: '900', ALERT_GROUP_WINDOW_MS: '100' });
    const d = await h.device('Kollupitiya');
    await h.recipient();
    const first = await h.start();
    await h.open(d, 1);
    await waitFor(async () => (await h.pool.query('SELECT 1 FROM alerts')).rowCount === 1);
    await first.close();
    await sleep(200);
    expect(h.twilio.requests).toHaveLength(0);
    await h.start();
    await waitFor(() => h.twilio.requests.length >= 1);
    await sleep(400);
    expect(h.bodies()).toEqual([expect.stringMatching(/^SPMS ALERT: Kollupitiya - CEB supply lost /)]);
  });

  it('two alerts workers and a redelivered event make one alert and one text', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    await h.recipient();
    await h.start();
    await h.start();
    const at = Date.now();
    const msgId = await h.open(d, 1, { at });
    // The same event again under other job ids (an outbox relay re-publish after a crash).
    const e = (await h.events.getJob(`outage.opened/${d}/1/${msgId}`))?.data as DomainEvent;
    await Promise.all([1, 2, 3].map((i) => h.events.add(e.type, e, { jobId: `${e.id}-again-${i}` })));
    await waitFor(() => h.twilio.requests.length >= 1);
    await sleep(600);
    expect(h.twilio.requests).toHaveLength(1);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM alerts');
    expect(rows[0].n).toBe(1);
  });
});
