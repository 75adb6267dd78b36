/** One outgoing text. `to` must already be E.164 (see normalizePhone). */
export interface SmsMessage {
  to: string;
  body: string;
  /** Overrides the provider's configured status-callback URL for this message. */
  statusCallbackUrl?: string;
}

export type SmsProviderName = 'twilio' | 'smpp' | 'console';

export interface SendResult {
  provider: SmsProviderName;
  /** Twilio's Message SID (SM…), the SMSC's message_id, or a local id for the console provider. */
  id: string;
  /** The provider's status right after acceptance: Twilio answers 'queued' or 'accepted'. */
  status: string;
  to: string;
  /** Segments the provider will bill (Twilio's num_segments, or our own count). */
  segments: number;
}

export interface SmsProvider {
  readonly name: SmsProviderName;
  /**
   * Recipients can answer the texts (the sender is a number, not an alphanumeric sender id,
   * and replies reach us). False for the console provider.
   */
  readonly acceptsReplies?: boolean;
  /** Resolves once the provider accepted the message; rejects with an error classifyTwilioError understands. */
  send(msg: SmsMessage): Promise<SendResult>;
  /** Ends a long-lived connection (SMPP); absent for stateless providers. */
  close?(): Promise<void>;
}

/** The subset of a pino logger this package uses, so any pino(-compatible) logger fits. */
export interface SmsLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** Twilio settings, parsed by the app from its environment (packages never read process.env). */
export interface TwilioSmsConfig {
  accountSid: string;
  authToken: string;
  /** Sender number in E.164 (or alphanumeric sender id). One of from / messagingServiceSid is required. */
  from?: string;
  /** MG… SID; Twilio then picks the sender from the service's pool. */
  messagingServiceSid?: string;
  /** Public https URL Twilio posts delivery receipts to. */
  statusCallbackUrl?: string;
  /** Per-request timeout (the SDK's default is 30 s, too long for a worker holding a job). */
  timeoutMs?: number;
  /**
   * Base URL of Twilio's Api domain, e.g. a local fake in tests or an egress proxy.
   * Default https://api.twilio.com.
   */
  apiBaseUrl?: string;
}

/**
 * An error raised by this package itself (bad input or configuration), carrying the same
 * verdict classifyTwilioError gives, so callers handle every failure one way.
 */
export class SmsError extends Error {
  override name = 'SmsError';
  constructor(
    message: string,
    readonly retry: boolean,
    readonly code?: number,
  ) {
    super(message);
  }
}
