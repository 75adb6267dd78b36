export { createConsoleProvider } from './console-provider.js';
export { createSmsProvider, type SmsProviderChoice, type SmsProvidersConfig } from './factory.js';
export {
  isE164,
  type NormalizeOptions,
  normalizePhone,
  type PhoneErrorReason,
  PhoneNumberError,
  type PhoneNumberInfo,
  parsePhone,
} from './phone.js';
export { type DeliveryReceipt, recordDeliveryReceipt } from './receipt-store.js';
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
export {
  ACKNOWLEDGEABLE_KINDS,
  parseReply,
  pickReplyCode,
  REPLY_TEXTS,
  type ReplyCommand,
  withReplyCode,
} from './replies.js';
export {
  handleInboundSms,
  type InboundOptions,
  type InboundOutcome,
  type InboundResult,
  type InboundSms,
  type SqlClient,
  type SqlPool,
} from './reply-handler.js';
export { backoffDelay, type DeliveryOutcome, type RetryOptions, sendWithRetry } from './retry.js';
export {
  type DeliverSm,
  describeSmppStatus,
  encodeText,
  messageIdVariants,
  parseDeliverSm,
  parseSmppUrl,
  type SmppAddress,
  type SmppEndpoint,
  type SmppInbound,
  type SmppReceipt,
  sourceAddress,
  submitError,
  truncateToOneSegment,
} from './smpp-codec.js';
export { createSmppProvider, type DeliverHandler, type SmppProvider, type SmppSmsConfig } from './smpp-provider.js';
// The pure text part (formatters, segments), also its own entry: @spms/sms/text.
export * from './text.js';
export {
  classifyTwilioError,
  DELIVERY_ERRORS,
  describeTwilioError,
  type ErrorClassification,
  PERMANENT_TWILIO_ERRORS,
  TRANSIENT_TWILIO_ERRORS,
} from './twilio-errors.js';
export { createTwilioProvider, validateTwilioConfig } from './twilio-provider.js';
export { twimlResponse } from './twiml.js';
export {
  type SendResult,
  SmsError,
  type SmsLogger,
  type SmsMessage,
  type SmsProvider,
  type SmsProviderName,
  type TwilioSmsConfig,
} from './types.js';
