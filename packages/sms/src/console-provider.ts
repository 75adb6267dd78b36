/**
 * The default when no Twilio credentials are configured: logs what would have been sent,
 * so a fresh install shows its alerts working without an SMS account.
 */
import { randomUUID } from 'node:crypto';
import { isE164 } from './phone.js';
import { smsSegments } from './segments.js';
import { type SendResult, SmsError, type SmsLogger, type SmsMessage, type SmsProvider } from './types.js';

export function createConsoleProvider(logger: SmsLogger): SmsProvider {
  return {
    name: 'console',
    acceptsReplies: false,
    async send(msg: SmsMessage): Promise<SendResult> {
      // Same input checks as Twilio's, so a bad number is caught before going live.
      if (!isE164(msg.to)) throw new SmsError(`recipient "${msg.to}" is not E.164 (use normalizePhone)`, false, 21211);
      if (msg.body.trim() === '') throw new SmsError('message body is empty', false, 21602);
      const info = smsSegments(msg.body);
      const id = `console-${randomUUID()}`;
      logger.info(
        { sms: { id, to: msg.to, body: msg.body, segments: info.segments, encoding: info.encoding } },
        'SMS not sent (no Twilio credentials configured): would send',
      );
      return { provider: 'console', id, status: 'logged', to: msg.to, segments: info.segments };
    },
  };
}
