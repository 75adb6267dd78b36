import nodemailer, { type Transporter } from 'nodemailer';

/** An SMTP transport from `SMTP_URL` (smtp://user:pass@host:587, smtps://… for implicit TLS). */
export function createMailer(smtpUrl: string): Transporter {
  return nodemailer.createTransport(smtpUrl);
}
