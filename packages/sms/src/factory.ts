import { createConsoleProvider } from './console-provider.js';
import { createSmppProvider, type SmppSmsConfig } from './smpp-provider.js';
import { createTwilioProvider } from './twilio-provider.js';
import { SmsError, type SmsLogger, type SmsProvider, type TwilioSmsConfig } from './types.js';

export type SmsProviderChoice = 'twilio' | 'smpp' | 'console';

export interface SmsProvidersConfig {
  /** Explicit choice (SMS_PROVIDER); unset → Twilio when any Twilio setting is present, else console. */
  provider?: SmsProviderChoice;
  twilio?: Partial<TwilioSmsConfig>;
  smpp?: Partial<SmppSmsConfig>;
}

/**
 * The provider the settings ask for. A half-filled config (Twilio SID without token, SMPP
 * without a URL or sender) throws: a typo in production must not silently turn alerts into
 * log lines. Accepts the older form (a Twilio config or undefined) too.
 */
export function createSmsProvider(
  config: SmsProvidersConfig | Partial<TwilioSmsConfig> | undefined,
  logger: SmsLogger,
): SmsProvider {
  const c: SmsProvidersConfig =
    config && ('provider' in config || 'twilio' in config || 'smpp' in config)
      ? (config as SmsProvidersConfig)
      : { twilio: config as Partial<TwilioSmsConfig> | undefined };
  const t = c.twilio;
  const twilioSet = Boolean(t && (t.accountSid || t.authToken || t.from || t.messagingServiceSid));
  const choice = c.provider ?? (twilioSet ? 'twilio' : 'console');
  if (choice === 'smpp') {
    if (!c.smpp?.url || !c.smpp.sourceAddr)
      throw new SmsError('SMS_PROVIDER=smpp needs SMPP_URL and SMPP_SOURCE_ADDR', false);
    return createSmppProvider({ ...c.smpp, url: c.smpp.url, sourceAddr: c.smpp.sourceAddr }, logger);
  }
  if (choice === 'twilio') {
    return createTwilioProvider({ ...t, accountSid: t?.accountSid ?? '', authToken: t?.authToken ?? '' });
  }
  logger.warn({}, 'no SMS provider configured: SMS alerts will be logged, not sent');
  return createConsoleProvider(logger);
}
