/**
 * Alerts: consumes the `domain-events` queue (alerts from outages, offline devices, voltage),
 * runs the durable timers (debounce, grouping windows, flapping checks, cap overflow) as
 * BullMQ delayed jobs, and sends SMS through @spms/sms. Every timer lives in Redis or
 * PostgreSQL, so a restart of every process loses none.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ALERT_TIMERS_QUEUE, DOMAIN_EVENTS_QUEUE, dispatchJob, SMS_QUEUE } from '@spms/contracts';
import { createPool } from '@spms/db';
import type { Logger } from '@spms/log';
import { createEmailQueue, createRedis, enqueueEmails, SMS_SENDER_TTL_MS, smsSenderKey } from '@spms/queue';
import type { SmsProvider } from '@spms/sms';
import { type Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AlertsConfig } from './config.js';
import type { AlertsContext } from './context.js';
import { startEmailSender } from './email-send.js';
import { handleEscalate, recoverEscalations } from './escalation.js';
import { checkFlapping } from './flapping.js';
import { enqueueSends, handleFlush, handleOverflow } from './flush.js';
import { handleDebounce } from './notify.js';
import { createEventHandler } from './on-event.js';
import { handleSend } from './send.js';
import { buildSmsProvider, startSmsInbound } from './sms-inbound.js';

export { ALERT_TIMERS_QUEUE, SMS_QUEUE } from '@spms/contracts';
export { type AlertsConfig, AlertsConfigSchema } from './config.js';

export interface RunningAlerts {
  close(): Promise<void>;
}

export async function startAlerts(
  config: AlertsConfig,
  opts: { logger: Logger; provider?: SmsProvider },
): Promise<RunningAlerts> {
  const logger = opts.logger.child({ component: 'alerts' });
  if (!config.ALERTS_ENABLED) {
    logger.info({}, 'alerts disabled (ALERTS_ENABLED=false)');
    return { close: async () => {} };
  }
  const prefix = config.REDIS_PREFIX;
  const provider = opts.provider ?? buildSmsProvider(config, logger);
  // Three workers of ALERT_CONCURRENCY jobs each; a job holds at most one connection at a time.
  const pool = createPool(config.DATABASE_URL, {
    max: 3 * config.ALERT_CONCURRENCY + 2,
    applicationName: 'spms-alerts',
    // Its statements are short look-ups and updates by key, run for every alert: planning
    // each cost more than running it (docs/storm-database-cost.md). Prepared from the second use.
    prepareRepeated: true,
  });
  const redis = createRedis(config.REDIS_URL, { maxRetriesPerRequest: null });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const keep = { removeOnComplete: { age: 24 * 3600, count: 50_000 }, removeOnFail: { age: 14 * 24 * 3600 } };
  const timers = new Queue(ALERT_TIMERS_QUEUE, {
    connection: redis,
    prefix,
    defaultJobOptions: { attempts: 10, backoff: { type: 'exponential', delay: 500 }, ...keep },
  });
  const sms = new Queue(SMS_QUEUE, {
    connection: redis,
    prefix,
    defaultJobOptions: {
      attempts: config.ALERT_SMS_ATTEMPTS,
      backoff: { type: 'exponential', delay: config.ALERT_SMS_BACKOFF_MS },
      ...keep,
    },
  });
  const email = createEmailQueue(redis, prefix);
  const ctx: AlertsContext = {
    pool,
    redis,
    prefix,
    timers,
    sms,
    provider,
    config,
    logger,
    email,
    emailOn: Boolean(config.SMTP_URL),
  };

  const onEvent = createEventHandler(ctx);
  const send = handleSend(ctx);
  // One queue, several job names: a handler per name of the registry (@spms/contracts).
  const onTimer = dispatchJob<typeof ALERT_TIMERS_QUEUE, Job, unknown>(
    {
      debounce: handleDebounce(ctx),
      flush: handleFlush(ctx),
      'flap-check': (job) => checkFlapping(ctx, job.data),
      overflow: handleOverflow(ctx),
      escalate: handleEscalate(ctx),
    },
    (job) => logger.warn({ jobId: job.id, name: job.name }, 'unknown alert timer job'),
  );
  const workerOpts = (concurrency: number) => ({
    connection: createRedis(config.REDIS_URL, { maxRetriesPerRequest: null }),
    prefix,
    concurrency,
    stalledInterval: 5000,
    maxStalledCount: 5,
  });
  const workers = [
    new Worker(DOMAIN_EVENTS_QUEUE, onEvent, workerOpts(config.ALERT_CONCURRENCY)),
    new Worker(ALERT_TIMERS_QUEUE, async (job: Job) => onTimer(job), workerOpts(config.ALERT_CONCURRENCY)),
    new Worker(SMS_QUEUE, send, workerOpts(config.ALERT_CONCURRENCY)),
  ];
  for (const w of workers) {
    w.on('failed', (job, err) =>
      logger.warn({ queue: w.name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'alerts job failed'),
    );
    w.on('error', (err) => logger.warn({ queue: w.name, err: err.message }, 'alerts worker error'));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  // A crash between a flush's COMMIT and its enqueue leaves notifications without a send job.
  const stranded = await pool.query<{ id: string }>(
    `SELECT id::text FROM notifications WHERE channel = 'sms' AND status = 'pending' AND attempts = 0 AND created_at < now() - interval '1 minute'`,
  );
  await enqueueSends(
    ctx,
    stranded.rows.map((r) => r.id),
  );
  const emailSender = await startEmailSender({
    pool,
    redisUrl: config.REDIS_URL,
    prefix,
    smtpUrl: config.SMTP_URL,
    from: config.SMTP_FROM,
    backoffMs: config.EMAIL_BACKOFF_MS,
    timeoutMs: config.SMTP_TIMEOUT_MS,
    concurrency: Math.min(4, config.ALERT_CONCURRENCY),
    logger,
  });
  const strandedEmails = await pool.query<{ id: string }>(
    `SELECT id::text FROM notifications WHERE channel = 'email' AND status = 'pending' AND attempts = 0 AND created_at < now() - interval '1 minute'`,
  );
  await enqueueEmails(
    email,
    strandedEmails.rows.map((r) => r.id),
  );
  await recoverEscalations(ctx);
  // Receipts and replies (SMPP deliver_sm) through the sms-inbound queue.
  const inbound = await startSmsInbound(ctx);
  logger.info({ provider: provider.name, prefix }, 'alerts started');
  // Heartbeat: which provider the processes that send texts use, so the dashboard can say
  // plainly that texts are only being logged (or that nothing sends them).
  const beatKey = smsSenderKey(prefix, `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`);
  const beat = () =>
    redis
      .set(
        beatKey,
        JSON.stringify({ provider: provider.name, replies: provider.acceptsReplies === true, at: Date.now() }),
        'PX',
        SMS_SENDER_TTL_MS,
      )
      .catch((err: unknown) => logger.warn({ err }, 'could not record the SMS provider heartbeat'));
  void beat();
  const beating = setInterval(beat, SMS_SENDER_TTL_MS / 3);
  beating.unref();
  let closed: Promise<void> | undefined;
  return {
    close() {
      closed ??= (async () => {
        clearInterval(beating);
        await redis.del(beatKey).catch(() => {});
        await Promise.all(workers.map((w) => w.close()));
        await inbound.close();
        await Promise.all(workers.map((w) => (w.opts.connection as Redis).quit().catch(() => {})));
        await timers.close();
        await sms.close();
        await emailSender.close();
        await email.close();
        redis.disconnect();
        await pool.end();
      })();
      return closed;
    },
  };
}
