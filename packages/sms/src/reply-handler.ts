/**
 * One inbound text (Twilio's inbound webhook or an SMPP deliver_sm), end to end in one
 * transaction: recorded in sms_inbound_messages (every message, whatever it says), and an
 * ACK acknowledges alerts — only alerts that were texted to this number's recipient, are
 * still unacknowledged, and are inside that recipient's current scope (the same test as
 * @spms/alerting's matchesRecipient, in SQL). Returns the short answer to send, if any; the
 * caller sends it (TwiML, or the SMPP session). The database is passed in (no pg import).
 */
import { parseReply, REPLY_TEXTS } from './replies.js';

export interface SqlClient {
  // biome-ignore lint/suspicious/noExplicitAny: rows of the caller's driver
  query(text: string, values?: unknown[]): Promise<{ rows: any[]; rowCount: number | null }>;
  release(): void;
}
export interface SqlPool {
  connect(): Promise<SqlClient>;
}

export interface InboundSms {
  provider: 'twilio' | 'smpp';
  /** Twilio's MessageSid: a webhook Twilio retries is recorded once. None for SMPP. */
  providerMessageId?: string;
  /** Sender, E.164 when it could be read as a number. */
  from: string;
  to: string;
  text: string;
}

export type InboundOutcome =
  | 'acknowledged'
  | 'nothing_open'
  | 'unknown_code'
  | 'ambiguous'
  | 'unknown_number'
  | 'not_a_command'
  | 'duplicate';

export interface InboundResult {
  id?: string;
  outcome: InboundOutcome;
  /** Alerts this message acknowledged. */
  acknowledged: string[];
  /** The answer to send back, if any (unset: none, or the per-number limit was reached). */
  reply?: string;
}

export interface InboundOptions {
  /** Answers per number per hour at most (an SMS loop or a prankster costs money). Default 5. */
  maxRepliesPerHour?: number;
  /** Only texts sent within this many days can be answered. Default 7. */
  lookbackDays?: number;
}

// The recipient's scope, as matchesRecipient has it (a device-wide alert concerns every line).
const IN_SCOPE = `(r.scope_kind = 'all'
  OR (r.scope_kind = 'region' AND a.region = r.scope_value)
  OR (r.scope_kind = 'customer' AND a.customer = r.scope_value)
  OR (r.scope_kind = 'device' AND a.device_id::text = r.scope_value)
  OR (r.scope_kind = 'line' AND a.device_id::text = r.scope_value AND (a.line IS NULL OR a.line = r.scope_line)))`;

// Texts that reached (or are reaching) this number and still cover an open alert.
const OPEN_TEXTS = `
SELECT n.id::text, n.reply_code, array_agg(DISTINCT a.id::text) AS alert_ids
  FROM notifications n
  JOIN alert_recipients r ON r.id = n.recipient_id AND r.phone = n.phone AND r.enabled
  JOIN notification_alerts na ON na.notification_id = n.id
  JOIN alerts a ON a.id = na.alert_id
 WHERE n.phone = $1 AND n.status IN ('accepted', 'queued', 'sending', 'sent', 'delivered', 'read')
   AND n.created_at > now() - make_interval(days => $2)
   AND a.acknowledged_at IS NULL AND NOT a.voided AND ${IN_SCOPE}
 GROUP BY n.id, n.reply_code ORDER BY n.id`;

const MAX_BODY = 1600;

export async function handleInboundSms(
  pool: SqlPool,
  msg: InboundSms,
  opts: InboundOptions = {},
): Promise<InboundResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const ins = await client.query(
      `INSERT INTO sms_inbound_messages (provider, provider_message_id, from_phone, to_addr, body, outcome)
       VALUES ($1, $2, $3, $4, $5, 'not_a_command')
       ON CONFLICT (provider, provider_message_id) DO NOTHING RETURNING id::text`,
      [
        msg.provider,
        msg.providerMessageId ?? null,
        msg.from.slice(0, 32),
        msg.to.slice(0, 32),
        msg.text.slice(0, MAX_BODY),
      ],
    );
    const id = ins.rows[0]?.id as string | undefined;
    if (!id) {
      await client.query('ROLLBACK');
      return { outcome: 'duplicate', acknowledged: [] };
    }
    const result = await decide(client, msg, opts.lookbackDays ?? 7);
    let reply = result.reply;
    if (reply) {
      const sent = await client.query(
        `SELECT count(*)::int AS n FROM sms_inbound_messages
          WHERE from_phone = $1 AND reply IS NOT NULL AND received_at > now() - interval '1 hour'`,
        [msg.from],
      );
      if ((sent.rows[0]?.n as number) >= (opts.maxRepliesPerHour ?? 5)) reply = undefined;
    }
    await client.query(
      `UPDATE sms_inbound_messages SET outcome = $2, recipient_id = $3, alert_ids = $4::bigint[], reply = $5 WHERE id = $1`,
      [id, result.outcome, result.recipientId ?? null, result.acknowledged, reply ?? null],
    );
    await client.query('COMMIT');
    return { id, outcome: result.outcome, acknowledged: result.acknowledged, ...(reply ? { reply } : {}) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

interface Decision {
  outcome: InboundOutcome;
  acknowledged: string[];
  recipientId?: string;
  reply?: string;
}

async function decide(client: SqlClient, msg: InboundSms, lookbackDays: number): Promise<Decision> {
  const known = await client.query(
    'SELECT id::text FROM alert_recipients WHERE phone = $1 AND enabled ORDER BY created_at LIMIT 1',
    [msg.from],
  );
  const recipientId = known.rows[0]?.id as string | undefined;
  // Unknown numbers get no answer: nothing to tell them, and an answer would cost money.
  if (!recipientId) return { outcome: 'unknown_number', acknowledged: [] };
  const cmd = parseReply(msg.text);
  if (cmd.kind !== 'ack') return { outcome: 'not_a_command', acknowledged: [], recipientId };
  const texts = (await client.query(OPEN_TEXTS, [msg.from, lookbackDays])).rows as {
    id: string;
    reply_code: string | null;
    alert_ids: string[];
  }[];
  if (texts.length === 0)
    return { outcome: 'nothing_open', acknowledged: [], recipientId, reply: REPLY_TEXTS.nothingOpen };
  let chosen = texts;
  if (cmd.code) {
    chosen = texts.filter((t) => t.reply_code === cmd.code);
    if (chosen.length === 0) {
      return { outcome: 'unknown_code', acknowledged: [], recipientId, reply: REPLY_TEXTS.unknownCode(cmd.code) };
    }
  } else if (!cmd.all && texts.length > 1) {
    return { outcome: 'ambiguous', acknowledged: [], recipientId, reply: REPLY_TEXTS.ambiguous(texts.length) };
  }
  const ids = [...new Set(chosen.flatMap((t) => t.alert_ids))];
  const by = `sms:${msg.from}`;
  // A concurrent ack (dashboard or another reply) wins: only rows still open are changed.
  const acked = await client.query(
    `UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2, updated_at = now()
      WHERE id = ANY($1::bigint[]) AND acknowledged_at IS NULL
      RETURNING id::text, acknowledged_at, cleared_at`,
    [ids, by],
  );
  for (const a of acked.rows as { id: string; acknowledged_at: Date; cleared_at: Date | null }[]) {
    const state = a.cleared_at ? 'CLEARED' : 'ACTIVE';
    await client.query(
      `INSERT INTO audit_log (principal_kind, principal_id, action, entity_type, entity_id, before, after)
       VALUES ('sms', $1, 'alert.acknowledge', 'alert', $2, $3, $4)`,
      [
        msg.from,
        a.id,
        JSON.stringify({ status: `${state}_UNACK`, acknowledgedAt: null, acknowledgedBy: null }),
        JSON.stringify({ status: `${state}_ACK`, acknowledgedAt: a.acknowledged_at.toISOString(), acknowledgedBy: by }),
      ],
    );
  }
  const done = (acked.rows as { id: string }[]).map((r) => r.id);
  if (done.length === 0)
    return { outcome: 'nothing_open', acknowledged: [], recipientId, reply: REPLY_TEXTS.nothingOpen };
  return { outcome: 'acknowledged', acknowledged: done, recipientId, reply: REPLY_TEXTS.acknowledged(done.length) };
}
