/**
 * The text side of SMS without any provider: one-segment formatters and GSM-7/UCS-2 segment
 * arithmetic. Pure code (no Twilio SDK, no node:http, no SMPP), imported as `@spms/sms/text`
 * by packages that only compose texts (@spms/alerting); the full entry re-exports it.
 */
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
export { fitsOneSegment, type SegmentInfo, type SmsEncoding, smsSegments, toGsmSafe } from './segments.js';
