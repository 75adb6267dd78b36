export { createConsoleProvider } from './console-provider.js';
export { createSmsProvider } from './factory.js';
export { type FakeTwilio, type FakeTwilioReply, type FakeTwilioRequest, startFakeTwilio } from './fake-twilio.js';
export {
  type FlappingInput,
  type FormatOptions,
  fitName,
  formatDeviceOfflineSms,
  formatDuration,
  formatFlappingNotice,
  formatGroupSummary,
  formatLocalTime,
  formatOutageSms,
  formatRestorationSms,
  type GroupSummaryInput,
  type OfflineInput,
  type OutageInput,
  type RestorationInput,
} from './format.js';
export {
  isE164,
  type NormalizeOptions,
  normalizePhone,
  type PhoneErrorReason,
  PhoneNumberError,
  type PhoneNumberInfo,
  parsePhone,
} from './phone.js';
export {
  isFinalStatus,
  type MessageStatus,
  parseStatusCallback,
  type StatusCallback,
  StatusCallbackError,
  shouldUpdateStatus,
  statusRank,
  TWILIO_SIGNATURE_HEADER,
  TWILIO_SIGNATURE_SETTINGS_HEADER,
  type VerifySignatureInput,
  verifyTwilioSignature,
} from './receipts.js';
export { backoffDelay, type DeliveryOutcome, type RetryOptions, sendWithRetry } from './retry.js';
export { fitsOneSegment, type SegmentInfo, type SmsEncoding, smsSegments, toGsmSafe } from './segments.js';
export {
  classifyTwilioError,
  DELIVERY_ERRORS,
  describeTwilioError,
  type ErrorClassification,
  PERMANENT_TWILIO_ERRORS,
  TRANSIENT_TWILIO_ERRORS,
} from './twilio-errors.js';
export { createTwilioProvider, validateTwilioConfig } from './twilio-provider.js';
export {
  type SendResult,
  SmsError,
  type SmsLogger,
  type SmsMessage,
  type SmsProvider,
  type TwilioSmsConfig,
} from './types.js';
