/**
 * Which failures are worth retrying. Twilio answers a bad request with HTTP 4xx and a JSON
 * body `{ code, message, more_info, status }`; the SDK turns that into a RestException
 * carrying `status` and `code`. Network failures come from axios (inside the SDK) with a
 * Node error code and no status.
 *
 * Sources: https://www.twilio.com/docs/api/errors/<code>, and Twilio's support article
 * "Does Twilio check to see if phone numbers can receive SMS?".
 */
import { SmsError } from './types.js';

export interface ErrorClassification {
  /** true: send again later (throttling, Twilio 5xx, network). false: it will never work as is. */
  retry: boolean;
  /** Twilio's error code (21211…) when there is one. */
  code?: number;
  /** HTTP status when Twilio answered. */
  status?: number;
  /** Short, operator-readable. */
  reason: string;
}

/** Refused at submission; retrying the same request cannot succeed. */
export const PERMANENT_TWILIO_ERRORS: Readonly<Record<number, string>> = {
  20003: 'authentication failed (check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)',
  20404: 'resource not found (wrong account SID?)',
  21211: "invalid 'To' phone number",
  21212: "invalid 'From' phone number",
  21266: "'To' and 'From' are the same number",
  21401: 'invalid phone number',
  21407: 'this phone number type does not support SMS',
  21408: 'SMS to this region is not enabled on the Twilio account (geo permissions)',
  21602: 'message body is required',
  21603: "'From' or messaging service is required",
  21604: "'To' phone number is required",
  21606: "'From' number cannot send SMS (not an SMS-capable Twilio number)",
  21608: 'trial account: recipient is not a verified number',
  21610: 'recipient has opted out (replied STOP)',
  21612: "'To' number is not reachable via SMS from this sender",
  21614: "'To' number is not a mobile number (landline or unreachable)",
  21617: 'message body exceeds 1600 characters',
  21659: "'From' is not a Twilio number or is not allowed for this country",
  21660: "'From' number does not belong to this account",
  21703: 'messaging service has no phone numbers in its sender pool',
  21705: 'invalid messaging service SID',
};

/** Codes that mean "not now": Twilio's queue or rate limit, or a Twilio-side fault. */
export const TRANSIENT_TWILIO_ERRORS: Readonly<Record<number, string>> = {
  20429: 'too many requests (Twilio API rate limit)',
  20500: 'Twilio internal error',
  20503: 'Twilio service unavailable',
  21611: "'From' number has too many queued messages",
};

/** Errors Twilio reports later, in a status callback's ErrorCode, for a message it had accepted. */
export const DELIVERY_ERRORS: Readonly<Record<number, string>> = {
  30001: 'queue overflow',
  30002: 'account suspended',
  30003: 'unreachable handset (off or out of coverage)',
  30004: 'message blocked (by recipient or carrier)',
  30005: 'unknown handset (number not in service)',
  30006: 'landline or unreachable carrier',
  30007: 'filtered by carrier (content looked like spam)',
  30008: 'unknown delivery error',
  30009: 'missing segment',
  30010: 'price exceeds max price',
};

// Node/axios error codes for a request that never got an HTTP answer. Some (ECONNRESET,
// timeouts) may hide a request Twilio did accept, so a retry can duplicate a text: for an
// outage alert a rare duplicate beats a lost message.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_NETWORK',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

// axios codes that mean our request itself is malformed: retrying cannot help.
const AXIOS_CONFIG_CODES = new Set([
  'ERR_INVALID_URL',
  'ERR_BAD_OPTION',
  'ERR_BAD_OPTION_VALUE',
  'ERR_NOT_SUPPORT',
  'ERR_CANCELED',
]);

/** Human text for any Twilio code this package knows, else undefined. */
export function describeTwilioError(code: number): string | undefined {
  return PERMANENT_TWILIO_ERRORS[code] ?? TRANSIENT_TWILIO_ERRORS[code] ?? DELIVERY_ERRORS[code];
}

/**
 * Pure verdict on anything thrown by a provider's send(). Unknown errors without an HTTP
 * status or a network code are treated as bugs: not retried, so they surface at once.
 */
export function classifyTwilioError(err: unknown): ErrorClassification {
  if (err instanceof SmsError) {
    return { retry: err.retry, reason: err.message, ...(err.code !== undefined ? { code: err.code } : {}) };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    status?: unknown;
    code?: unknown;
    message?: unknown;
    isAxiosError?: unknown;
  };
  const status = typeof e.status === 'number' ? e.status : undefined;
  const code = typeof e.code === 'number' ? e.code : undefined;
  const message =
    typeof e.message === 'string' && e.message !== '' ? e.message : err instanceof Error ? err.name : 'no details';
  const withIds = { ...(code !== undefined ? { code } : {}), ...(status !== undefined ? { status } : {}) };

  if (code !== undefined && PERMANENT_TWILIO_ERRORS[code]) {
    return { retry: false, ...withIds, reason: `${code} ${PERMANENT_TWILIO_ERRORS[code]}` };
  }
  if (code !== undefined && TRANSIENT_TWILIO_ERRORS[code]) {
    return { retry: true, ...withIds, reason: `${code} ${TRANSIENT_TWILIO_ERRORS[code]}` };
  }
  if (status !== undefined) {
    const label =
      code !== undefined ? `${code} ${message}` : message.startsWith('[HTTP') ? message : `HTTP ${status}: ${message}`;
    // 408/429 and every 5xx are Twilio saying "not now"; any other 4xx is about the request.
    const retry = status === 408 || status === 429 || status >= 500;
    return { retry, ...withIds, reason: label };
  }
  if (
    typeof e.code === 'string' &&
    (NETWORK_CODES.has(e.code) || (e.isAxiosError === true && !AXIOS_CONFIG_CODES.has(e.code)))
  ) {
    return { retry: true, reason: `network error ${e.code}: ${message}` };
  }
  return { retry: false, reason: `unexpected error: ${message}` };
}
