/**
 * SMTP delivery through nodemailer. SMTP_URL carries everything (smtp://user:pass@host:587
 * with STARTTLS when offered, smtps://…:465 for implicit TLS); its password is never logged.
 */
import nodemailer, { type Transporter } from 'nodemailer';

export interface MailerOptions {
  /** Connection, greeting and socket timeouts (ms). */
  timeoutMs?: number;
}

/** An SMTP transport from `SMTP_URL` (smtp://user:pass@host:587, smtps://… for implicit TLS). */
export function createMailer(smtpUrl: string, opts: MailerOptions = {}): Transporter {
  const t = opts.timeoutMs ?? 20_000;
  return nodemailer.createTransport(smtpUrl, {
    connectionTimeout: t,
    greetingTimeout: t,
    socketTimeout: t,
  } as Parameters<typeof nodemailer.createTransport>[1]);
}

export interface OutgoingEmail {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** Stable across retries, so a receiving system can tell a resent message from a new one. */
  messageId: string;
  attachments?: { filename: string; content: string; contentType: string }[];
}

export interface SentEmail {
  messageId: string;
  /** The server's final reply, e.g. '250 2.0.0 Ok: queued as 4F1D2'. */
  response: string;
}

export async function sendEmail(mailer: Transporter, m: OutgoingEmail): Promise<SentEmail> {
  const info = await mailer.sendMail({
    from: m.from,
    to: m.to,
    subject: m.subject,
    text: m.text,
    messageId: m.messageId,
    ...(m.attachments ? { attachments: m.attachments } : {}),
  });
  const rejected = (info.rejected ?? []) as unknown[];
  if (rejected.length > 0) {
    const err = new Error(`the server refused ${rejected.join(', ')}`) as Error & { responseCode?: number };
    err.responseCode = 550;
    throw err;
  }
  return { messageId: info.messageId ?? m.messageId, response: info.response ?? '' };
}

export interface SmtpFailure {
  /** Worth trying again later (server busy, connection refused, timeout, 4xx). */
  retry: boolean;
  /** SMTP reply code when the server answered. */
  code: number | null;
  reason: string;
}

/**
 * A 5xx reply about the recipient or the message (unknown mailbox, message refused) will not
 * change by retrying; everything else — 4xx, a refused or dropped connection, a timeout,
 * even a failed login (an operator may be fixing SMTP_URL) — is retried with back-off.
 */
export function classifySmtpError(err: unknown): SmtpFailure {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  const code = typeof e.responseCode === 'number' ? e.responseCode : null;
  const reason = (e.response ?? e.message ?? String(err)).slice(0, 500);
  const permanent = code !== null && code >= 500 && code < 600 && e.code !== 'EAUTH';
  return { retry: !permanent, code, reason };
}
