/**
 * Alerts over SMPP against a local SMSC: the text carries a reply code, the receipt (sent
 * as soon as the SMSC answered, possibly before the worker stored the message id) updates
 * the notification like Twilio's callback, and replies acknowledge — only what the number
 * was told about and is in its recipient's scope.
 */
import { smsSenderPattern } from '@spms/queue';
import { type FakeSmsc, startFakeSmsc } from '@spms/sms/fakes';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, sleep, waitFor } from './test-support/harness.js';

let smsc: FakeSmsc | undefined;
afterEach(async () => {
  await smsc?.close();
  smsc = undefined;
});

async function setup() {
  smsc = await startFakeSmsc();
  const h = await harness({
    SMS_PROVIDER: 'smpp',
    SMPP_URL: smsc.url(),
    SMPP_SOURCE_ADDR: '+94112345678',
    SMPP_MAX_PER_SECOND: '0',
  });
  return { h, smsc };
}

const reply = (s: FakeSmsc, from: string, text: string) =>
  s.deliver({ source_addr: from.slice(1), source_addr_ton: 1, short_message: text });

describe('alerts over SMPP', () => {
  it('the immediate receipt lands on the notification like a Twilio callback; a second open text gets a reply code', async () => {
    const { h, smsc } = await setup();
    const d = await h.device('Kollupitiya');
    await h.recipient();
    await h.start();
    await h.open(d, 1);
    await waitFor(() => smsc.accepted.length === 1);
    const sent = smsc.accepted[0];
    // The receipt at once: the worker may not have stored the message id yet.
    expect(await smsc.receipt(sent?.messageId as string, 'DELIVRD')).toBe(0);
    // A lone open text needs no code: a plain ACK names it.
    expect(sent?.text).toMatch(/^SPMS ALERT: Kollupitiya - CEB supply lost \d+ \w+ \d\d:\d\d$/);
    expect(sent).toMatchObject({ destinationAddr: '94771234567', sourceAddr: '94112345678', sourceTon: 1 });
    await waitFor(async () => {
      const { rows } = await h.pool.query(`SELECT status FROM notifications`);
      return rows[0]?.status === 'delivered';
    });
    const { rows } = await h.pool.query('SELECT provider, provider_message_id, body, reply_code FROM notifications');
    expect(rows[0]).toMatchObject({ provider: 'smpp', provider_message_id: sent?.messageId, body: sent?.text });
    expect(rows[0]?.reply_code).toBeNull();
    // The heartbeat tells GET /api/system which provider sends, and that replies are possible.
    const r = new Redis(h.redis.url);
    try {
      const keys = await r.keys(smsSenderPattern(h.redis.prefix));
      expect(keys).toHaveLength(1);
      expect(JSON.parse((await r.get(keys[0] as string)) ?? '{}')).toMatchObject({ provider: 'smpp', replies: true });
    } finally {
      r.disconnect();
    }
    const hist = await h.pool.query('SELECT status, source FROM notification_status_history ORDER BY id');
    expect(hist.rows).toEqual([
      { status: 'pending', source: 'worker' },
      { status: 'queued', source: 'worker' },
      { status: 'delivered', source: 'callback' },
    ]);
    // Another region's outage while the first is open: that text carries a code.
    await h.open(await h.device('Galle', 'Southern'), 1);
    await waitFor(() => smsc.accepted.length === 2);
    const second = await h.pool.query('SELECT body, reply_code FROM notifications ORDER BY id DESC LIMIT 1');
    expect(second.rows[0]?.reply_code).toMatch(/^\d{3}$/);
    expect(smsc.accepted[1]?.text).toBe(second.rows[0]?.body);
    expect(smsc.accepted[1]?.text).toMatch(
      new RegExp(`^SPMS ALERT: Galle - CEB supply lost .* Reply ACK ${second.rows[0]?.reply_code}$`),
    );
  });

  it('ACK from the recipient acknowledges its alert, recorded as by SMS, audited, and answered', async () => {
    const { h, smsc } = await setup();
    const d = await h.device('Kollupitiya');
    await h.recipient();
    await h.start();
    await h.open(d, 1);
    await waitFor(() => smsc.accepted.length === 1);
    await waitFor(
      async () => (await h.pool.query(`SELECT 1 FROM notifications WHERE status = 'queued'`)).rowCount === 1,
    );
    expect(await reply(smsc, '+94771234567', 'ack')).toBe(0);
    await waitFor(() => smsc.accepted.length === 2);
    expect(smsc.accepted[1]).toMatchObject({
      destinationAddr: '94771234567',
      text: 'SPMS: acknowledged 1 alert. Thank you.',
    });
    const alert = await h.pool.query('SELECT acknowledged_by, acknowledged_at FROM alerts');
    expect(alert.rows[0]?.acknowledged_by).toBe('sms:+94771234567');
    const inbound = await h.pool.query(
      'SELECT provider, from_phone, body, outcome, reply, array_length(alert_ids, 1) AS n FROM sms_inbound_messages',
    );
    expect(inbound.rows).toEqual([
      {
        provider: 'smpp',
        from_phone: '+94771234567',
        body: 'ack',
        outcome: 'acknowledged',
        reply: 'SPMS: acknowledged 1 alert. Thank you.',
        n: 1,
      },
    ]);
    const audit = await h.pool.query(`SELECT principal_kind, principal_id, action FROM audit_log`);
    expect(audit.rows).toEqual([{ principal_kind: 'sms', principal_id: '+94771234567', action: 'alert.acknowledge' }]);
  });

  it('changes nothing for an unknown number, a number with no open alert, or a code outside the scope', async () => {
    const { h, smsc } = await setup();
    const d = await h.device('Kollupitiya', 'Western');
    await h.recipient(); // everything, +94771234567
    await h.recipient({ name: 'North', phone: '+94771111111', scope_kind: 'region', scope_value: 'North' });
    await h.start();
    await h.open(d, 1);
    const queued = async () => (await h.pool.query(`SELECT 1 FROM notifications WHERE status = 'queued'`)).rowCount;
    await waitFor(async () => (await queued()) === 1);
    await h.open(await h.device('Galle', 'Southern'), 1); // a second open text: it carries a code
    await waitFor(async () => (await queued()) === 2);
    const coded = await h.pool.query('SELECT reply_code FROM notifications WHERE reply_code IS NOT NULL');
    const code = coded.rows[0]?.reply_code as string;
    expect(code).toMatch(/^\d{3}$/);
    expect(await reply(smsc, '+94779999999', 'ACK')).toBe(0);
    expect(await reply(smsc, '+94771111111', 'ACK')).toBe(0);
    expect(await reply(smsc, '+94771111111', `ACK ${code}`)).toBe(0);
    await waitFor(async () => (await h.pool.query('SELECT 1 FROM sms_inbound_messages')).rowCount === 3);
    await waitFor(() => smsc.accepted.length === 4); // two alerts + two answers to the North recipient
    await sleep(200);
    // Replies are handled concurrently (sms-inbound jobs), so they are stored in any order.
    const inbound = await h.pool.query(
      'SELECT from_phone, outcome, reply FROM sms_inbound_messages ORDER BY from_phone DESC, id',
    );
    expect(inbound.rows).toEqual([
      { from_phone: '+94779999999', outcome: 'unknown_number', reply: null },
      { from_phone: '+94771111111', outcome: 'nothing_open', reply: 'SPMS: no open alert for this number.' },
      {
        from_phone: '+94771111111',
        outcome: 'nothing_open',
        reply: 'SPMS: no open alert for this number.',
      },
    ]);
    expect(smsc.accepted.map((s) => s.destinationAddr)).toEqual([
      '94771234567',
      '94771234567',
      '94771111111',
      '94771111111',
    ]);
    const alerts = await h.pool.query('SELECT acknowledged_at FROM alerts');
    expect(alerts.rows.map((r) => r.acknowledged_at)).toEqual([null, null]);
    expect((await h.pool.query('SELECT 1 FROM audit_log')).rowCount).toBe(0);
  });

  it('an SMSC connection dropped with submits in flight: every recipient gets the text once', async () => {
    const { h, smsc } = await setup();
    const d = await h.device('Kollupitiya');
    const phones = ['+94771000001', '+94771000002', '+94771000003', '+94771000004', '+94771000005'];
    for (const phone of phones) await h.recipient({ name: phone, phone });
    // Four send jobs run at once (ALERT_CONCURRENCY): the first submit is answered, the next
    // four reach the SMSC and are never answered. The fifth submit can only start once the
    // answered job finished, so by then its answer has arrived.
    smsc.reply('ok', 'hold', 'hold', 'hold', 'hold');
    await h.start();
    await h.open(d, 1);
    await waitFor(() => smsc.submits.length === 5);
    smsc.drop();
    await waitFor(
      async () => (await h.pool.query(`SELECT 1 FROM notifications WHERE status = 'queued'`)).rowCount === 5,
    );
    await sleep(300);
    expect(smsc.accepted.map((s) => `+${s.destinationAddr}`).sort()).toEqual(phones);
    const { rows } = await h.pool.query('SELECT provider_message_id FROM notifications ORDER BY provider_message_id');
    expect(rows.map((r) => r.provider_message_id)).toEqual(smsc.accepted.map((s) => s.messageId).sort());
    // The four held submits were submitted again on the new session, the answered one was not.
    expect(smsc.submits).toHaveLength(9);
  });
});
