export { EmailAddressError, normalizeEmail } from './address.js';
export { type AlertEmailItem, type ComposedEmail, composeAlertEmail } from './alert-email.js';
export { fixed, humanDuration, localDateTime, textTable } from './format.js';
export {
  classifySmtpError,
  createMailer,
  type MailerOptions,
  type OutgoingEmail,
  type SentEmail,
  type SmtpFailure,
  sendEmail,
} from './mailer.js';
export { addDays, duePeriods, lastCompletePeriod, type ReportPeriod, type ReportPeriodKind } from './periods.js';
export { composeReportEmail, type IndexSummary, type ReportEmail, type ReportEmailInput } from './report-email.js';
