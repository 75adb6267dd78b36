/**
 * SMPP 3.4 without I/O: the connection URL, the sender address (TON/NPI), text → data_coding
 * and octets, what a submit_sm_resp status means, and deliver_sm → delivery receipt or reply.
 */
import type { DeliverSm, MessageStatus, SmppInbound, SmppReceipt } from '@spms/contracts';
import smpp from 'smpp';
import { normalizePhone } from './phone.js';
import { smsSegments } from './segments.js';
import { SmsError } from './types.js';

export interface SmppEndpoint {
  host: string;
  port: number;
  tls: boolean;
  systemId: string;
  password: string;
}

/** smpp://system_id:password@host:2775 or smpps://… (TLS, default port 3550). */
export function parseSmppUrl(raw: string): SmppEndpoint {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SmsError('SMPP_URL is not a URL (expected smpp://system_id:password@host:2775)', false);
  }
  if (u.protocol !== 'smpp:' && u.protocol !== 'smpps:') {
    throw new SmsError(`SMPP_URL scheme must be smpp: or smpps:, not ${u.protocol}`, false);
  }
  const systemId = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  if (!u.hostname || !systemId) throw new SmsError('SMPP_URL needs a host and a system_id (smpp://id:pw@host)', false);
  // SMPP 3.4 §5.2.1/5.2.2: system_id at most 15 octets, password at most 8.
  if (systemId.length > 15) throw new SmsError('SMPP system_id is longer than 15 characters', false);
  if (password.length > 8) throw new SmsError('SMPP password is longer than 8 characters', false);
  const tls = u.protocol === 'smpps:';
  return { host: u.hostname, port: u.port ? Number(u.port) : tls ? 3550 : 2775, tls, systemId, password };
}

export interface SmppAddress {
  addr: string;
  ton: number;
  npi: number;
  /** A number the recipient can reply to (an alphanumeric sender id cannot receive). */
  numeric: boolean;
}

/**
 * The sender: '+94771234567' → international/E.164 (TON 1, NPI 1, digits only); a short
 * code (digits, up to 8) → network specific (TON 3, NPI 0); anything else is an alphanumeric
 * sender id (TON 5, NPI 0, at most 11 GSM characters). Explicit TON/NPI override the guess.
 */
export function sourceAddress(source: string, ton?: number, npi?: number): SmppAddress {
  const s = source.trim();
  let guess: SmppAddress;
  if (/^\+[1-9]\d{6,14}$/.test(s)) guess = { addr: s.slice(1), ton: 1, npi: 1, numeric: true };
  else if (/^\d{3,8}$/.test(s)) guess = { addr: s, ton: 3, npi: 0, numeric: true };
  else if (/^\d{9,15}$/.test(s)) guess = { addr: s, ton: 1, npi: 1, numeric: true };
  else {
    if (s.length === 0 || s.length > 11 || smsSegments(s).encoding !== 'GSM-7') {
      throw new SmsError('SMPP_SOURCE_ADDR: an alphanumeric sender id is 1-11 GSM characters', false);
    }
    guess = { addr: s, ton: 5, npi: 0, numeric: false };
  }
  return { ...guess, ...(ton !== undefined ? { ton } : {}), ...(npi !== undefined ? { npi } : {}) };
}

/** data_coding values used: 0 = SMSC default alphabet (GSM 03.38), 8 = UCS-2 (UTF-16BE). */
export const DATA_CODING_GSM = 0;
export const DATA_CODING_UCS2 = 8;

export interface EncodedText {
  data_coding: number;
  /** One segment: short_message. A longer text when allowed: message_payload (the SMSC splits it). */
  short_message?: Buffer;
  message_payload?: Buffer;
  encoding: 'GSM-7' | 'UCS-2';
  segments: number;
  /** The text actually sent (shortened to one segment when long texts are not allowed). */
  text: string;
  truncated: boolean;
}

/** Cuts a text to one segment, ending with '..' (code points, so no surrogate pair is split). */
export function truncateToOneSegment(text: string): string {
  if (smsSegments(text).segments <= 1) return text;
  const chars = [...text];
  for (let n = chars.length - 1; n > 0; n--) {
    const t = `${chars.slice(0, n).join('').trimEnd()}..`;
    if (smsSegments(t).segments <= 1) return t;
  }
  return '..';
}

/**
 * GSM-7 when every character is in the GSM 03.38 alphabet (one octet per septet, unpacked,
 * as SMPP carries it), else UCS-2. Over one segment: shortened to one unless `allowLong`,
 * then sent whole in message_payload (SMPP 3.4 §5.3.2.32), which the SMSC splits into
 * concatenated parts under a single message id and a single receipt.
 */
export function encodeText(body: string, allowLong: boolean): EncodedText {
  const info = smsSegments(body);
  const text = info.segments > 1 && !allowLong ? truncateToOneSegment(body) : body;
  const final = text === body ? info : smsSegments(text);
  const gsm = final.encoding === 'GSM-7';
  const octets = gsm ? smpp.gsmCoder.encode(text, 0) : Buffer.from(utf16be(text));
  const base = {
    data_coding: gsm ? DATA_CODING_GSM : DATA_CODING_UCS2,
    encoding: final.encoding,
    segments: final.segments,
    text,
    truncated: text !== body,
  };
  return final.segments > 1 ? { ...base, message_payload: octets } : { ...base, short_message: octets };
}

function utf16be(text: string): Uint8Array {
  const le = Buffer.from(text, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) {
    const a = le[i] as number;
    le[i] = le[i + 1] as number;
    le[i + 1] = a;
  }
  return le;
}

const STATUS_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(smpp.errors).map(([name, code]) => [code, name]),
);

/** 'ESME_RTHROTTLED (0x58)'. */
export function describeSmppStatus(status: number): string {
  return `${STATUS_NAMES[status] ?? 'vendor status'} (0x${status.toString(16).padStart(2, '0')})`;
}

/** Back off and submit again on the same session: the SMSC's rate or queue limit. */
export const SMPP_THROTTLED = new Set([0x58, 0x14]); // ESME_RTHROTTLED, ESME_RMSGQFUL

// Faults on the SMSC's side that a later submission may get past.
const SMPP_TRANSIENT = new Set([0x08, 0x45, 0x64]); // ESME_RSYSERR, ESME_RSUBMITFAIL, ESME_RX_T_APPN

/**
 * A refused submit_sm as an SmsError the worker's retry policy (classifyTwilioError) reads:
 * throttling and SMSC faults retry, everything else (bad address, rejected content, an
 * unknown vendor status) is permanent so it surfaces at once. The code stored is the SMPP
 * command_status.
 */
export function submitError(status: number): SmsError {
  const retry = SMPP_THROTTLED.has(status) || SMPP_TRANSIENT.has(status);
  return new SmsError(`SMSC refused submit_sm: ${describeSmppStatus(status)}`, retry, status);
}

// deliver_sm's two kinds cross the sms-inbound queue: their shapes are in @spms/contracts.
export type { DeliverSm, SmppInbound, SmppReceipt };

// Receipt states (SMPP 3.4 Appendix B 'stat:' words and the message_state TLV) onto the
// states Twilio's callbacks use, so both providers fill the same columns the same way.
const STAT_WORDS: Record<string, MessageStatus> = {
  ENROUTE: 'sent',
  ACCEPTD: 'sent',
  DELIVRD: 'delivered',
  EXPIRED: 'undelivered',
  UNDELIV: 'undelivered',
  UNKNOWN: 'undelivered',
  REJECTD: 'failed',
  DELETED: 'canceled',
  SKIPPED: 'failed',
};
const MESSAGE_STATE: Record<number, string> = {
  1: 'ENROUTE',
  2: 'DELIVRD',
  3: 'EXPIRED',
  4: 'DELETED',
  5: 'UNDELIV',
  6: 'ACCEPTD',
  7: 'UNKNOWN',
  8: 'REJECTD',
  9: 'SKIPPED',
};

/** The decoded text of a deliver_sm (short_message, or message_payload when that is used). */
function textOf(field: unknown): string {
  const v = (
    field && typeof field === 'object' && 'message' in field ? (field as { message: unknown }).message : field
  ) as string | Buffer | undefined;
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  return '';
}

/**
 * A deliver_sm from the SMSC: a delivery receipt (esm_class message type 0x04 or 0x20, or a
 * receipted_message_id TLV) or a mobile-originated text (a reply). Undefined for a receipt
 * that names no message id or state (logged and answered, never guessed).
 */
export function parseDeliverSm(
  // biome-ignore lint/suspicious/noExplicitAny: a decoded PDU, fields by name
  pdu: Record<string, any>,
  defaultCountry = 'LK',
): DeliverSm | undefined {
  const text = textOf(pdu.message_payload) || textOf(pdu.short_message);
  const type = Number(pdu.esm_class ?? 0) & 0x3c;
  if (type === 0x04 || type === 0x20 || pdu.receipted_message_id) {
    const id = (pdu.receipted_message_id as string | undefined) || /\bid:(\S+)/i.exec(text)?.[1];
    const stateNum = typeof pdu.message_state === 'number' ? pdu.message_state : undefined;
    const word = (stateNum !== undefined ? MESSAGE_STATE[stateNum] : undefined) ?? /\bstat:(\w+)/i.exec(text)?.[1];
    const status = word ? STAT_WORDS[word.toUpperCase()] : undefined;
    if (!id || !status || !word) return undefined;
    const err = Number.parseInt(/\berr:(\w+)/i.exec(text)?.[1] ?? '0', 10);
    return {
      kind: 'receipt',
      receipt: { messageId: id, status, state: word.toUpperCase(), ...(err > 0 ? { errorCode: err } : {}) },
    };
  }
  return {
    kind: 'message',
    message: { from: phoneOf(pdu, defaultCountry), to: String(pdu.destination_addr ?? ''), text },
  };
}

// TON 1 is international (digits without '+'); otherwise read it as a number of the
// default country. Kept raw if it is no phone number at all (it then matches no recipient).
function phoneOf(pdu: { source_addr?: unknown; source_addr_ton?: unknown }, defaultCountry: string): string {
  const addr = String(pdu.source_addr ?? '').trim();
  const international = pdu.source_addr_ton === 1 && /^\d+$/.test(addr) ? `+${addr}` : addr;
  try {
    return normalizePhone(international, defaultCountry, { requireMobile: false });
  } catch {
    return international;
  }
}

/** Some SMSCs give a hex id in submit_sm_resp and the same number in decimal in receipts (or back). */
export function messageIdVariants(id: string): string[] {
  const out = new Set([id]);
  if (/^\d{1,15}$/.test(id)) {
    const hex = Number(id).toString(16);
    out.add(hex).add(hex.toUpperCase());
  }
  if (/^[0-9a-f]{1,12}$/i.test(id)) out.add(String(Number.parseInt(id, 16)));
  return [...out];
}
