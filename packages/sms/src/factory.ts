import { createConsoleProvider } from './console-provider.js';
import { createTwilioProvider } from './twilio-provider.js';
import type { SmsLogger, SmsProvider, TwilioSmsConfig } from './types.js';

/**
 * Twilio when credentials are configured, else the console provider (with a warning).
 * A half-filled config (SID without token, no sender) throws: a typo in production must
 * not silently turn alerts into log lines.
 */
export function createSmsProvider(config: Partial<TwilioSmsConfig> | undefined, logger: SmsLogger): SmsProvider {
  const anySet = config && (config.accountSid || config.authToken || config.from || config.messagingServiceSid);
  if (!anySet) {
    logger.warn({}, 'no Twilio credentials configured: SMS alerts will be logged, not sent');
    return createConsoleProvider(logger);
  }
  return createTwilioProvider({
    ...config,
    accountSid: config.accountSid ?? '',
    authToken: config.authToken ?? '',
  });
}
