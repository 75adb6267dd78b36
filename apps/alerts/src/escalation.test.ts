/**
 * Escalation policies with real PostgreSQL, Redis (BullMQ) and the fake Twilio: tiers told
 * in turn while unacknowledged, stopped by acknowledgement or clearing, across a restart of
 * the alerts runtime, under quiet hours and under the per-recipient cap. Delays come from
 * the policies themselves (seconds), no global override.
 */
import { smsSegments } from '@spms/sms';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type H, harness, quietAroundNow, sleep, waitFor } from './test-support/harness.js';

const A = '+94770000001';
const B = '+94770000002';
const C = '+94770000003';

/** A recipient subscribed to nothing an outage is (only a policy tells it about outages). */
const person = (h: H, name: string, phone: string, over: Record<string, unknown> = {}) =>
  h.recipient({ name, phone, kinds: ['voltage'], ...over });

async function group(pool: pg.Pool, name: string, members: string[]): Promise<string> {
  const { rows } = await pool.query<{ id: string }>('INSERT INTO recipient_groups (name) VALUES ($1) RETURNING id', [
    name,
  ]);
  const id = rows[0]?.id as string;
  for (const m of members)
    await pool.query('INSERT INTO recipient_group_members (group_id, recipient_id) VALUES ($1, $2)', [id, m]);
  return id;
}

async function policy(pool: pg.Pool, tiers: { delaySec: number; recipients?: string[]; groups?: string[] }[]) {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO escalation_policies (name, scope_kind) VALUES ('Duty escalation', 'all') RETURNING id`,
  );
  const id = rows[0]?.id as string;
  for (const [i, t] of tiers.entries()) {
    await pool.query('INSERT INTO escalation_tiers (policy_id, tier, delay_sec) VALUES ($1, $2, $3)', [
      id,
      i + 1,
      t.delaySec,
    ]);
    for (const r of t.recipients ?? [])
      await pool.query('INSERT INTO escalation_tier_targets (policy_id, tier, recipient_id) VALUES ($1, $2, $3)', [
        id,
        i + 1,
        r,
      ]);
    for (const g of t.groups ?? [])
      await pool.query('INSERT INTO escalation_tier_targets (policy_id, tier, group_id) VALUES ($1, $2, $3)', [
        id,
        i + 1,
        g,
      ]);
  }
  return id;
}

const textsTo = (h: H, phone: string) => h.twilio.requests.filter((r) => r.form.To === phone).map((r) => r.form.Body);

async function alertId(h: H): Promise<string> {
  await waitFor(async () => (await h.pool.query('SELECT 1 FROM alerts')).rowCount === 1);
  return (await h.pool.query<{ id: string }>('SELECT id::text FROM alerts')).rows[0]?.id as string;
}

const steps = async (h: H, alert: string) =>
  (
    await h.pool.query<{ tier: number; recipient_name: string | null; outcome: string }>(
      'SELECT tier, recipient_name, outcome FROM alert_escalations WHERE alert_id = $1 ORDER BY id',
      [alert],
    )
  ).rows.map((r) => [r.tier, r.recipient_name, r.outcome]);

const state = async (h: H, alert: string) =>
  (
    await h.pool.query<{ next_tier: number; stopped_reason: string | null }>(
      'SELECT next_tier, stopped_reason FROM alert_escalation_state WHERE alert_id = $1',
      [alert],
    )
  ).rows[0];

describe('alert escalation', () => {
  it('tells tier 1 with the alert and the on-call group of tier 2 after its delay when unacknowledged', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    const a = await person(h, 'Asha', A);
    const b = await person(h, 'Bandara', B);
    await policy(h.pool, [
      { delaySec: 0, recipients: [a] },
      { delaySec: 2, groups: [await group(h.pool, 'Night', [b])] },
    ]);
    await h.start();
    await h.open(d, 1);
    const id = await alertId(h);
    await waitFor(() => textsTo(h, A).length === 1);
    expect(textsTo(h, A)[0]).toMatch(/^SPMS ALERT: Kollupitiya - CEB supply lost/);
    await waitFor(() => textsTo(h, B).length === 1, 10_000);
    // Tier 2 says it is an escalation, still in one segment (tier 1 reads like any alert).
    expect(textsTo(h, B)[0]).toMatch(/^ESCALATED \(tier 2\): SPMS ALERT: Kollupitiya - CEB supply lost/);
    expect(smsSegments(textsTo(h, B)[0] ?? '').segments).toBe(1);
    expect(await steps(h, id)).toEqual([
      [1, 'Asha', 'notified'],
      [2, 'Bandara', 'notified'],
    ]);
    // Tier 2 was told no earlier than its delay after tier 1.
    const gap = await h.pool.query<{ ms: number }>(
      `SELECT (extract(epoch from max(at) - min(at)) * 1000)::float8 AS ms FROM alert_escalations WHERE alert_id = $1`,
      [id],
    );
    expect(gap.rows[0]?.ms).toBeGreaterThanOrEqual(2000);
    expect(await state(h, id)).toMatchObject({ stopped_reason: 'exhausted' });
  });

  it('acknowledged before the delay: tier 2 is never told, nor tier 1 if its text still waits in its window', async () => {
    // A long grouping window: the acknowledgement comes while tier 1's text waits in it.
    const h = await harness({ ALERT_GROUP_WINDOW_MS: '1500' });
    const d = await h.device('Kollupitiya');
    const a = await person(h, 'Asha', A);
    const b = await person(h, 'Bandara', B);
    await policy(h.pool, [
      { delaySec: 0, recipients: [a] },
      { delaySec: 3, recipients: [b] },
    ]);
    await h.start();
    await h.open(d, 1);
    const id = await alertId(h);
    await waitFor(async () => (await steps(h, id)).length === 1);
    await h.pool.query(`UPDATE alerts SET acknowledged_at = now(), acknowledged_by = 'op' WHERE id = $1`, [id]);
    await waitFor(async () => (await state(h, id))?.stopped_reason === 'acknowledged', 8000);
    await sleep(600);
    expect(h.twilio.requests).toEqual([]);
    expect(await steps(h, id)).toEqual([
      [1, 'Asha', 'notified'],
      [1, 'Asha', 'acknowledged'], // dropped from the window when it closed
      [2, null, 'acknowledged'],
    ]);
  });

  it('clearing stops it; whoever the escalation told hears the restoration', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    const a = await person(h, 'Asha', A);
    const b = await person(h, 'Bandara', B);
    await policy(h.pool, [
      { delaySec: 0, recipients: [a] },
      { delaySec: 3, recipients: [b] },
    ]);
    await h.start();
    const msg = await h.open(d, 1);
    const id = await alertId(h);
    await waitFor(() => textsTo(h, A).length === 1);
    expect(await steps(h, id)).toHaveLength(1); // tier 2 is 3 s away
    await h.close(d, 1, msg);
    await waitFor(async () => (await state(h, id))?.stopped_reason === 'cleared', 8000);
    await waitFor(() => textsTo(h, A).length === 2);
    expect(textsTo(h, A)[1]).toMatch(/^SPMS OK: Kollupitiya - CEB restored after /);
    await sleep(600);
    expect(textsTo(h, B)).toEqual([]);
    expect(await steps(h, id)).toEqual([
      [1, 'Asha', 'notified'],
      [2, null, 'cleared'],
    ]);
  });

  it('a restart of the alerts runtime between tiers loses no step and duplicates none', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    const a = await person(h, 'Asha', A);
    const b = await person(h, 'Bandara', B);
    const c = await person(h, 'Chandra', C);
    await policy(h.pool, [
      { delaySec: 0, recipients: [a] },
      { delaySec: 3, recipients: [b] },
      { delaySec: 1, recipients: [c] },
    ]);
    const first = await h.start();
    await h.open(d, 1);
    const id = await alertId(h);
    // Stopped as soon as tier 1 is recorded (its text may still wait in its window or queue).
    await waitFor(async () => (await steps(h, id)).length === 1);
    await first.close();
    const due = await h.pool.query<{ down_first: boolean; wait: number }>(
      `SELECT next_at > now() AS down_first, greatest(0, extract(epoch from next_at - now()) * 1000)::float8 AS wait
         FROM alert_escalation_state WHERE alert_id = $1`,
      [id],
    );
    expect(due.rows[0]?.down_first).toBe(true); // the runtime was gone before tier 2 fell due
    await sleep((due.rows[0]?.wait ?? 0) + 300); // tier 2 falls due while no runtime runs
    await h.start();
    await waitFor(() => textsTo(h, C).length === 1, 10_000);
    expect(textsTo(h, C)[0]).toMatch(/^ESCALATED \(tier 3\): SPMS ALERT: Kollupitiya - CEB supply lost/);
    await sleep(800); // a redelivered job or a second schedule would show up by now
    expect([textsTo(h, A).length, textsTo(h, B).length, textsTo(h, C).length]).toEqual([1, 1, 1]);
    expect(await steps(h, id)).toEqual([
      [1, 'Asha', 'notified'],
      [2, 'Bandara', 'notified'],
      [3, 'Chandra', 'notified'],
    ]);
    expect(await state(h, id)).toMatchObject({ stopped_reason: 'exhausted' });
  });

  it('two alerts runtimes at once tell each tier once', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    const a = await person(h, 'Asha', A);
    const b = await person(h, 'Bandara', B);
    const c = await person(h, 'Chandra', C);
    await policy(h.pool, [
      { delaySec: 0, recipients: [a] },
      { delaySec: 1, recipients: [b] },
      { delaySec: 1, recipients: [c] },
    ]);
    await h.start();
    await h.start();
    await h.open(d, 1);
    const id = await alertId(h);
    await waitFor(() => textsTo(h, C).length === 1, 10_000);
    await sleep(800);
    expect([textsTo(h, A).length, textsTo(h, B).length, textsTo(h, C).length]).toEqual([1, 1, 1]);
    expect(await steps(h, id)).toEqual([
      [1, 'Asha', 'notified'],
      [2, 'Bandara', 'notified'],
      [3, 'Chandra', 'notified'],
    ]);
  });

  it('an overdue escalation whose job was lost is told when the runtime starts', async () => {
    const h = await harness();
    const d = await h.device('Kollupitiya');
    const b = await person(h, 'Bandara', B);
    const a = await person(h, 'Asha', A);
    const p = await policy(h.pool, [
      { delaySec: 0, recipients: [a] },
      { delaySec: 60, recipients: [b] },
    ]);
    // Tier 1 told three minutes ago; tier 2's job never reached Redis (or was removed).
    const { rows } = await h.pool.query<{ id: string }>(
      `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id, notified_at)
       VALUES ('outage', 'lost-job', 'major', $1, 1, 'Western', now() - interval '4 minutes', 'e', now() - interval '3 minutes')
       RETURNING id::text`,
      [d],
    );
    const id = rows[0]?.id as string;
    await h.pool.query(
      `INSERT INTO alert_escalation_state (alert_id, policy_id, policy_name, next_tier, next_at)
       VALUES ($1, $2, 'Duty escalation', 2, now() - interval '2 minutes')`,
      [id, p],
    );
    await h.start();
    await waitFor(() => textsTo(h, B).length === 1);
    expect(await steps(h, id)).toEqual([[2, 'Bandara', 'notified']]);
    expect(await state(h, id)).toMatchObject({ stopped_reason: 'exhausted' });
  });

  it('quiet hours hold back a non-critical escalation (recorded); a critical one goes out', async () => {
    const h = await harness();
    const major = await h.device('Kollupitiya', null);
    const critical = await h.device('Wellawatte', null);
    const b = await person(h, 'Bandara', B, quietAroundNow());
    await policy(h.pool, [{ delaySec: 0, recipients: [b] }]);
    await h.start();
    await h.open(major, 2); // generator line: major
    await h.open(critical, 1, { utility: true }); // CEB feed: critical
    await waitFor(() => textsTo(h, B).length === 1);
    await sleep(600);
    expect(textsTo(h, B)).toEqual([expect.stringMatching(/^SPMS ALERT: Wellawatte - CEB supply lost/)]);
    const { rows } = await h.pool.query<{ name: string; outcome: string }>(
      `SELECT d.name, e.outcome FROM alert_escalations e JOIN alerts a ON a.id = e.alert_id
         JOIN devices d ON d.id = a.device_id ORDER BY d.name`,
    );
    expect(rows).toEqual([
      { name: 'Kollupitiya', outcome: 'quiet_hours' },
      { name: 'Wellawatte', outcome: 'notified' },
    ]);
    const held = await h.pool.query(
      `SELECT 1 FROM notifications WHERE status = 'suppressed' AND reason = 'quiet_hours'`,
    );
    expect(held.rowCount).toBe(1);
  });

  it('capped escalation texts are not dropped silently: the overflow summary counts them', async () => {
    const h = await harness({ ALERT_MAX_PER_HOUR: '1', ALERT_CAP_WINDOW_MS: '3000' });
    const devs: string[] = [];
    for (let i = 0; i < 3; i++) devs.push(await h.device(`Site ${i}`, null));
    const a = await person(h, 'Asha', A);
    await policy(h.pool, [{ delaySec: 0, recipients: [a] }]);
    await h.start();
    await sleep(3000 - (Date.now() % 3000) + 20); // all three in one cap window
    for (const d of devs) await h.open(d, 1);
    await waitFor(() => textsTo(h, A).length >= 2, 10_000);
    await sleep(300);
    const texts = textsTo(h, A);
    expect(texts).toHaveLength(2);
    expect(texts[1]).toBe(
      'SPMS: 2 more alerts not texted, 2 of them escalations (unacknowledged) (limit 1 per 3 s). See the dashboard.',
    );
  });
  it('a flapping line that settles: whoever the escalation told hears the restoration too', async () => {
    const h = await harness({
      ALERT_FLAP_THRESHOLD: '4',
      ALERT_FLAP_WINDOW_MS: '6000',
      ALERT_FLAP_CLEAR_BELOW: '2',
      ALERT_FLAP_QUIET_MS: '1000',
      ALERT_GROUP_WINDOW_MS: '200',
    });
    const d = await h.device('Kollupitiya');
    const S = '+94771234567';
    await h.recipient({ name: 'Subscriber', phone: S }); // outages and restorations
    const a = await person(h, 'Asha', A); // told only by the policy
    await policy(h.pool, [{ delaySec: 0, recipients: [a] }]);
    await h.start();
    // A blip too short to be told (the debounce finds it closed), then an outage told to
    // both; its close is the fourth change: the line flaps and its restoration is held.
    const blip = await h.open(d, 1);
    await sleep(30);
    await h.close(d, 1, blip);
    await sleep(30);
    const told = await h.open(d, 1);
    await waitFor(() => textsTo(h, A).length === 1 && textsTo(h, S).length === 1);
    await h.close(d, 1, told);
    await waitFor(() => textsTo(h, S).length === 2);
    expect(textsTo(h, S)[1]).toMatch(/^SPMS: Kollupitiya - CEB is flapping /);
    // Once more while it flaps, too short to be told: the latest outage is this one.
    const last = await h.open(d, 1);
    await sleep(30);
    await h.close(d, 1, last);
    // Settled with power on: one restoration each, Asha included.
    await waitFor(() => textsTo(h, S).length === 3 && textsTo(h, A).length === 2, 15_000);
    expect(textsTo(h, S)[2]).toMatch(/^SPMS OK: Kollupitiya - CEB restored after /);
    expect(textsTo(h, A)[1]).toBe(textsTo(h, S)[2]);
    await sleep(1500); // a second settle check or a retried job must not text again
    expect([textsTo(h, S).length, textsTo(h, A).length]).toEqual([3, 2]);
    // The told outage counts as restored: a redelivered close of it texts nobody again.
    const { rows } = await h.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM alerts WHERE notified_at IS NOT NULL AND restoration_notified_at IS NULL`,
    );
    expect(rows[0]?.n).toBe(0);
  });
});
