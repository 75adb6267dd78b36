/**
 * Delivery receipts: Twilio POSTs form-encoded status callbacks (MessageSid, MessageStatus,
 * ErrorCode…) to the StatusCallback URL, signed in the X-Twilio-Signature header.
 *
 * The signature is an HMAC of the exact URL Twilio called plus the sorted POST parameters,
 * keyed with the auth token. Behind a reverse proxy or load balancer the app sees
 * http://internal-host:3000/…, not the public https://alerts.example.lk/… that Twilio signed:
 * rebuild the URL from the configured public callback URL (SMS_STATUS_CALLBACK_URL) plus the
 * request's path and query string — never from Host / X-Forwarded-* alone, which a caller
 * controls unless the proxy overwrites them.
 */
import type { MessageStatus } from '@spms/contracts';
import twilio from 'twilio';

/** Header Twilio signs requests with (Node lowercases incoming header names). */
export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';
export const TWILIO_SIGNATURE_SETTINGS_HEADER = 'x-twilio-webhooks-signature-settings';

export interface VerifySignatureInput {
  authToken: string;
  /** Full public URL Twilio called, including the query string. */
  url: string;
  /** Parsed form fields of the POST body (all values strings). */
  params: Record<string, string>;
  /** X-Twilio-Signature header value; undefined when absent (always invalid). */
  signature: string | undefined;
  /**
   * X-Twilio-Webhooks-Signature-Settings header, if present: Twilio's newer shared-key
   * webhooks name HMAC_SHA256 there (then `authToken` is that shared-key secret). Absent
   * means the classic HMAC-SHA1 keyed with the auth token.
   */
  signatureSettings?: string | undefined;
}

/** True only for a request Twilio signed with this auth token. Pure (HMAC only). */
export function verifyTwilioSignature(input: VerifySignatureInput): boolean {
  if (!input.signature || !input.authToken) return false;
  // validateRequest also tries the URL with and without the default port, as Twilio documents.
  const algorithm = twilio.getSignatureAlgorithm(input.signatureSettings);
  return twilio.validateRequest(input.authToken, input.signature, input.url, input.params, algorithm);
}

// Also what SMPP receipts are mapped onto: the type is in @spms/contracts (sms-inbound jobs carry it).
export type { MessageStatus };

// Progress of an outbound message. Terminal outcomes share a rank so the first one wins;
// 'read' (WhatsApp/RCS) is the only news after 'delivered'.
const RANK: Record<MessageStatus, number> = {
  accepted: 0,
  scheduled: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  receiving: 3,
  partially_delivered: 4,
  delivered: 5,
  undelivered: 5,
  failed: 5,
  canceled: 5,
  received: 5,
  read: 6,
};

export interface StatusCallback {
  messageSid: string;
  status: MessageStatus;
  /** Twilio's error code for undelivered/failed (30003 unreachable handset, 30006 landline…). */
  errorCode?: number;
  to?: string;
  from?: string;
  accountSid?: string;
}

export class StatusCallbackError extends Error {
  override name = 'StatusCallbackError';
}

function isStatus(s: string): s is MessageStatus {
  return Object.hasOwn(RANK, s);
}

/** Form fields of a status callback → a typed receipt; throws StatusCallbackError when malformed. */
export function parseStatusCallback(params: Record<string, string | undefined>): StatusCallback {
  // SmsSid/SmsStatus are the legacy names Twilio still sends alongside the new ones.
  const messageSid = params.MessageSid ?? params.SmsSid;
  const status = params.MessageStatus ?? params.SmsStatus;
  if (!messageSid || !/^(SM|MM)[0-9a-fA-F]{32}$/.test(messageSid)) {
    throw new StatusCallbackError('status callback without a valid MessageSid');
  }
  if (!status || !isStatus(status)) {
    throw new StatusCallbackError(`status callback with unknown MessageStatus "${status ?? ''}"`);
  }
  const out: StatusCallback = { messageSid, status };
  const code = params.ErrorCode ? Number(params.ErrorCode) : Number.NaN;
  if (Number.isInteger(code) && code > 0) out.errorCode = code;
  if (params.To) out.to = params.To;
  if (params.From) out.from = params.From;
  if (params.AccountSid) out.accountSid = params.AccountSid;
  return out;
}

/** Position in a message's life; higher is later. */
export function statusRank(status: MessageStatus): number {
  return RANK[status];
}

/** True when `incoming` is news: callbacks arrive out of order, and a late 'sent' must not overwrite 'delivered'. */
export function shouldUpdateStatus(current: MessageStatus | undefined, incoming: MessageStatus): boolean {
  return current === undefined || RANK[incoming] > RANK[current];
}

/** A final outcome: no further callbacks will change what happened (except a WhatsApp 'read'). */
export function isFinalStatus(status: MessageStatus): boolean {
  return RANK[status] >= 5;
}
