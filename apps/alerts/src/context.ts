/** What every alerts processor needs: connections, queues, settings (built in index.ts). */
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import type { EmailJob } from '@spms/queue';
import type { SmsProvider } from '@spms/sms';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AlertsConfig } from './config.js';

export const ALERT_TIMERS_QUEUE = 'alert-timers';
export const SMS_QUEUE = 'sms';

export interface AlertsContext {
  pool: Pool;
  redis: Redis;
  prefix: string;
  /** Delayed jobs: debounce, flush (grouping window), flap-check, overflow. */
  timers: Queue;
  /** One job per notification to send. */
  sms: Queue;
  provider: SmsProvider;
  /** One job per e-mail notification (email-send.ts consumes it where SMTP_URL is set). */
  email: Queue<EmailJob>;
  /** SMTP_URL is set here: alert e-mails are queued; otherwise recorded as suppressed ('email_off'). */
  emailOn: boolean;
  config: AlertsConfig;
  logger: Logger;
}

export interface DebounceJob {
  alertId: string;
}
export interface FlushJob {
  recipientId: string;
  groupKey: string;
  gen: string;
}
export interface FlapCheckJob {
  deviceId: string;
  line: number;
}
export interface OverflowJob {
  recipientId: string;
  windowStart: number;
}
export interface SendJob {
  notificationId: string;
}

/** BullMQ refuses ':' in custom job ids. */
export const jobId = (...parts: (string | number)[]) => parts.join('-').replaceAll(':', '_');
