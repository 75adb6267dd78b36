/**
 * Sends through Twilio's Messages API with the official SDK
 * (`client.messages.create`). SDK-side retries stay off: the caller owns retry policy.
 */
import twilio from 'twilio';
import { isE164 } from './phone.js';
import { smsSegments } from './segments.js';
import { type SendResult, SmsError, type SmsMessage, type SmsProvider, type TwilioSmsConfig } from './types.js';

/** Checks the config shape; throws SmsError naming the problem (never echoing secrets). */
export function validateTwilioConfig(config: TwilioSmsConfig): void {
  const problems: string[] = [];
  if (!/^AC[0-9a-fA-F]{32}$/.test(config.accountSid)) problems.push('accountSid must be AC followed by 32 hex digits');
  if (!config.authToken) problems.push('authToken is required');
  if (!config.from && !config.messagingServiceSid) problems.push('set from (a Twilio number) or messagingServiceSid');
  if (config.messagingServiceSid && !/^MG[0-9a-fA-F]{32}$/.test(config.messagingServiceSid)) {
    problems.push('messagingServiceSid must be MG followed by 32 hex digits');
  }
  if (config.statusCallbackUrl && !/^https?:\/\//.test(config.statusCallbackUrl)) {
    problems.push('statusCallbackUrl must be an http(s) URL');
  }
  if (problems.length > 0) throw new SmsError(`invalid Twilio configuration: ${problems.join('; ')}`, false);
}

export function createTwilioProvider(config: TwilioSmsConfig): SmsProvider {
  validateTwilioConfig(config);
  // Every option is passed explicitly: the SDK otherwise falls back to process.env
  // (TWILIO_EDGE, TWILIO_REGION, TWILIO_LOG_LEVEL). An empty string survives its `??`
  // fallbacks, so '' means "none" — and keeps a custom apiBaseUrl from being rewritten to a
  // regional host name.
  const client = twilio(config.accountSid, config.authToken, {
    edge: '',
    region: '',
    logLevel: '',
    autoRetry: false,
    timeout: config.timeoutMs ?? 15_000,
  });
  if (config.apiBaseUrl) client.api.baseUrl = config.apiBaseUrl.replace(/\/+$/, '');

  return {
    name: 'twilio',
    // An alphanumeric sender id cannot be answered; a messaging service's pool is assumed numeric.
    acceptsReplies: config.from ? /^\+?\d+$/.test(config.from) : true,
    async send(msg: SmsMessage): Promise<SendResult> {
      if (!isE164(msg.to)) throw new SmsError(`recipient "${msg.to}" is not E.164 (use normalizePhone)`, false, 21211);
      if (msg.body.trim() === '') throw new SmsError('message body is empty', false, 21602);
      const statusCallback = msg.statusCallbackUrl ?? config.statusCallbackUrl;
      const created = await client.messages.create({
        to: msg.to,
        body: msg.body,
        ...(config.messagingServiceSid ? { messagingServiceSid: config.messagingServiceSid } : {}),
        ...(config.from ? { from: config.from } : {}),
        ...(statusCallback ? { statusCallback } : {}),
      });
      const segments = Number(created.numSegments);
      return {
        provider: 'twilio',
        id: created.sid,
        status: created.status,
        to: created.to ?? msg.to,
        segments: Number.isInteger(segments) && segments > 0 ? segments : smsSegments(msg.body).segments,
      };
    },
  };
}
