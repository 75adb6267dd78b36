/** What every alerts processor needs: connections, queues, settings (built in alerts.ts). */
import type { ALERT_TIMERS_QUEUE, JobProducer, SMS_QUEUE } from '@spms/contracts';
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import type { EmailJob } from '@spms/queue';
import type { SmsProvider } from '@spms/sms';
import type { JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AlertsConfig } from './config.js';

export interface AlertsContext {
  pool: Pool;
  redis: Redis;
  prefix: string;
  /** Delayed jobs: debounce, flush (grouping window), flap-check, overflow, escalate. */
  timers: JobProducer<typeof ALERT_TIMERS_QUEUE, JobsOptions> & Pick<Queue, 'getJob'>;
  /** One job per notification to send. */
  sms: JobProducer<typeof SMS_QUEUE, JobsOptions>;
  provider: SmsProvider;
  /** One job per e-mail notification (email-send.ts consumes it where SMTP_URL is set). */
  email: Queue<EmailJob>;
  /** SMTP_URL is set here: alert e-mails are queued; otherwise recorded as suppressed ('email_off'). */
  emailOn: boolean;
  config: AlertsConfig;
  logger: Logger;
}
