/**
 * Replies by SMS through Twilio's inbound webhook: signed or 403; ACK, ACK <code> and a
 * grouped text; nothing changes for unknown numbers, numbers without an open alert, codes of
 * other numbers' texts; a retried webhook is recorded once; answers are capped per number.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../app.js';
import { loadApiConfig } from '../../config.js';

const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
const TOKEN = 'twilio-auth-token-123';
const PUBLIC = 'https://alerts.example.lk';
const DUTY = '+94771234567';
const NORTH = '+94771111111';
const OURS = '+94112345678';

let db: TestDatabase;
let redis: TestRedis;
let app: FastifyInstance;
let pool: pg.Pool;
let dev: string;

beforeAll(async () => {
  db = await createTestDatabase('sms_inbound');
  redis = createTestRedis('sms_inbound');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  app = await buildApp(
    loadApiConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_LEVEL: 'silent',
      SPMS_ADMIN_API_KEY: ADMIN_KEY,
      TWILIO_AUTH_TOKEN: TOKEN,
      SMS_STATUS_CALLBACK_URL: `${PUBLIC}/api/sms/status`,
      SMS_REPLY_MAX_PER_HOUR: '5',
    }),
  );
  dev = randomUUID();
  await pool.query(
    `INSERT INTO devices (id, name, region, profile_id, updated_at) VALUES ($1, 'Kollupitiya', 'Western', '00000000-0000-4000-8000-000000000001', now())`,
    [dev],
  );
  await pool.query(`INSERT INTO device_lines (device_id, number, label) VALUES ($1, 1, 'CEB'), ($1, 2, 'Gen')`, [dev]);
  await pool.query(
    `INSERT INTO alert_recipients (name, phone, scope_kind, scope_value, kinds) VALUES
       ('Duty', $1, 'all', NULL, '{outage}'), ('North', $2, 'region', 'North', '{outage}')`,
    [DUTY, NORTH],
  );
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

function sign(url: string, params: Record<string, string>, token = TOKEN): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url);
  return createHmac('sha1', token).update(data).digest('base64');
}

const sid = () => `SM${randomBytes(16).toString('hex')}`;

async function inbound(from: string, body: string, opts: { messageSid?: string; signature?: string | null } = {}) {
  const params = {
    AccountSid: `AC${'0'.repeat(32)}`,
    From: from,
    To: OURS,
    Body: body,
    MessageSid: opts.messageSid ?? sid(),
  };
  const signature = opts.signature === undefined ? sign(`${PUBLIC}/api/sms/inbound`, params) : opts.signature;
  return app.inject({
    method: 'POST',
    url: '/api/sms/inbound',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(signature ? { 'x-twilio-signature': signature } : {}),
    },
    payload: new URLSearchParams(params).toString(),
  });
}

let seq = 0;
/** An open outage alert texted to `phone` (delivered), in a text with `code`; several alerts make a grouped text. */
async function texted(phone: string, code: string | null, lines = [1]): Promise<string[]> {
  const ids: string[] = [];
  for (const line of lines) {
    const a = await pool.query<{ id: string }>(
      `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, started_at, start_event_id, notified_at)
       VALUES ('outage', $1, 'major', $2, $3, 'Western', now() - interval '5 min', 'e', now()) RETURNING id::text`,
      [`k${++seq}`, dev, line],
    );
    ids.push(a.rows[0]?.id as string);
  }
  const n = await pool.query<{ id: string }>(
    `INSERT INTO notifications (recipient_id, phone, kind, body, status, provider, provider_message_id, attempts, reply_code)
     SELECT id, phone, 'outage', 'SPMS ALERT', 'delivered', 'twilio', $2, 1, $3 FROM alert_recipients WHERE phone = $1
     RETURNING id`,
    [phone, sid(), code],
  );
  await pool.query('INSERT INTO notification_alerts SELECT $1, unnest($2::bigint[])', [n.rows[0]?.id, ids]);
  return ids;
}

const acked = async (ids: string[]) =>
  (await pool.query('SELECT acknowledged_by FROM alerts WHERE id = ANY($1::bigint[]) ORDER BY id', [ids])).rows.map(
    (r) => r.acknowledged_by as string | null,
  );
const answer = (xml: string) => /<Message>(.*)<\/Message>/.exec(xml)?.[1];

describe('POST /api/sms/inbound', () => {
  it('refuses a forged or unsigned request with 403 and records nothing', async () => {
    const ids = await texted(DUTY, '101');
    const forged = await inbound(DUTY, 'ACK', {
      signature: sign(`${PUBLIC}/api/sms/inbound`, { Body: 'ACK' }, 'wrong'),
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().message).toMatch(/X-Twilio-Signature/);
    expect((await inbound(DUTY, 'ACK', { signature: null })).statusCode).toBe(403);
    expect(await acked(ids)).toEqual([null]);
    expect((await pool.query('SELECT 1 FROM sms_inbound_messages')).rowCount).toBe(0);
    // Clean up for the next tests: acknowledge it the ordinary way.
    await pool.query(
      `UPDATE alerts SET acknowledged_at = now(), acknowledged_by = 'test' WHERE id = ANY($1::bigint[])`,
      [ids],
    );
  });

  it('changes nothing for a number with no open alert, or an unknown number', async () => {
    const before = (await pool.query('SELECT id, acknowledged_at FROM alerts ORDER BY id')).rows;
    const none = await inbound(NORTH, 'ACK');
    expect(none.statusCode).toBe(200);
    expect(none.headers['content-type']).toMatch(/text\/xml/);
    expect(answer(none.body)).toBe('SPMS: no open alert for this number.');
    const stranger = await inbound('+94779999999', 'ACK');
    expect(stranger.body).not.toContain('<Message>');
    expect((await pool.query('SELECT id, acknowledged_at FROM alerts ORDER BY id')).rows).toEqual(before);
    const rows = await pool.query(`SELECT from_phone, outcome FROM sms_inbound_messages ORDER BY id`);
    expect(rows.rows).toEqual([
      { from_phone: NORTH, outcome: 'nothing_open' },
      { from_phone: '+94779999999', outcome: 'unknown_number' },
    ]);
    expect((await pool.query(`SELECT 1 FROM audit_log WHERE principal_kind = 'sms'`)).rowCount).toBe(0);
  });

  it('ACK acknowledges the one open text; a grouped text acknowledges its alerts; shown as by SMS', async () => {
    const group = await texted(DUTY, '202', [1, 2]);
    const res = await inbound(DUTY, 'Ack');
    expect(answer(res.body)).toBe('SPMS: acknowledged 2 alerts. Thank you.');
    expect(await acked(group)).toEqual([`sms:${DUTY}`, `sms:${DUTY}`]);
    const view = await app.inject({
      method: 'GET',
      url: `/api/alerts/${group[0]}`,
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(view.json()).toMatchObject({ status: 'ACTIVE_ACK', acknowledgedBy: `sms:${DUTY}`, acknowledgedVia: 'sms' });
    const audit = await pool.query(
      `SELECT principal_kind, principal_id, entity_id, after->>'acknowledgedBy' AS by FROM audit_log WHERE action = 'alert.acknowledge' ORDER BY id`,
    );
    expect(audit.rows).toEqual(
      group.map((id) => ({ principal_kind: 'sms', principal_id: DUTY, entity_id: id, by: `sms:${DUTY}` })),
    );
  });

  it('with several open texts, ACK asks for the code; ACK <code> takes that text only; a code of another number is unknown', async () => {
    const a = await texted(DUTY, '301');
    const b = await texted(DUTY, '302');
    expect(answer((await inbound(DUTY, 'ACK')).body)).toMatch(/^SPMS: 2 alert texts are open\. Reply ACK and the code/);
    expect(await acked([...a, ...b])).toEqual([null, null]);
    // NORTH was never texted about these (and Western is outside its scope).
    expect(answer((await inbound(NORTH, 'ACK 302')).body)).toBe('SPMS: no open alert for this number.');
    expect(answer((await inbound(DUTY, 'ACK 999')).body)).toMatch(/^SPMS: no open alert with code 999/);
    expect(await acked([...a, ...b])).toEqual([null, null]);
    await inbound(DUTY, 'ack 302');
    expect(await acked([...a, ...b])).toEqual([null, `sms:${DUTY}`]);
    await pool.query(
      `UPDATE alerts SET acknowledged_at = now(), acknowledged_by = 'test' WHERE id = ANY($1::bigint[])`,
      [a],
    );
  });

  it('records a webhook Twilio retries once, and answers a number at most SMS_REPLY_MAX_PER_HOUR times', async () => {
    const ids = await texted(DUTY, '401');
    const messageSid = sid();
    expect(answer((await inbound(DUTY, 'ACK', { messageSid })).body)).toBe('SPMS: acknowledged 1 alert. Thank you.');
    const again = await inbound(DUTY, 'ACK', { messageSid });
    expect(again.statusCode).toBe(200);
    expect(again.body).not.toContain('<Message>');
    expect(
      (await pool.query('SELECT 1 FROM sms_inbound_messages WHERE provider_message_id = $1', [messageSid])).rowCount,
    ).toBe(1);
    expect(await acked(ids)).toEqual([`sms:${DUTY}`]);
    // Five answers an hour (the test's limit): NORTH already had two.
    for (let i = 0; i < 3; i++) expect(answer((await inbound(NORTH, 'ACK')).body)).toBeDefined();
    expect(answer((await inbound(NORTH, 'ACK')).body)).toBeUndefined();
    const last = await pool.query(
      `SELECT outcome, reply FROM sms_inbound_messages WHERE from_phone = $1 ORDER BY id DESC LIMIT 1`,
      [NORTH],
    );
    expect(last.rows[0]).toEqual({ outcome: 'nothing_open', reply: null });
  });
});
