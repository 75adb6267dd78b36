/**
 * The SMS provider from the settings, and what an SMPP session receives: delivery receipts
 * and replies. A deliver_sm is answered only once its job is in the `sms-inbound` queue
 * (Redis), so any worker process handles it and none is lost with this one; the SMSC
 * delivers again what was not answered. A receipt can beat the send's own database update
 * (the SMSC answers submit_sm and sends the receipt at once): a receipt for an id not stored
 * yet fails its job, which BullMQ retries with back-off.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dispatchJob, type JobProducer, SMS_INBOUND_QUEUE, type SmsInboundJob } from '@spms/contracts';
import type { Logger } from '@spms/log';
import { createRedis } from '@spms/queue';
import {
  createSmsProvider,
  handleInboundSms,
  messageIdVariants,
  recordDeliveryReceipt,
  type SmppProvider,
  type SmsProvider,
} from '@spms/sms';
import { type Job, type JobsOptions, Queue, Worker } from 'bullmq';
import type { AlertsConfig } from './config.js';
import type { AlertsContext } from './context.js';

export function buildSmsProvider(config: AlertsConfig, logger: Logger): SmsProvider {
  return createSmsProvider(
    {
      ...(config.SMS_PROVIDER ? { provider: config.SMS_PROVIDER } : {}),
      twilio: {
        ...(config.TWILIO_ACCOUNT_SID ? { accountSid: config.TWILIO_ACCOUNT_SID } : {}),
        ...(config.TWILIO_AUTH_TOKEN ? { authToken: config.TWILIO_AUTH_TOKEN } : {}),
        ...(config.TWILIO_FROM ? { from: config.TWILIO_FROM } : {}),
        ...(config.TWILIO_MESSAGING_SERVICE_SID ? { messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID } : {}),
        ...(config.SMS_STATUS_CALLBACK_URL ? { statusCallbackUrl: config.SMS_STATUS_CALLBACK_URL } : {}),
        ...(config.TWILIO_API_BASE_URL ? { apiBaseUrl: config.TWILIO_API_BASE_URL } : {}),
        timeoutMs: config.TWILIO_TIMEOUT_MS,
      },
      smpp: {
        ...(config.SMPP_URL ? { url: config.SMPP_URL } : {}),
        ...(config.SMPP_SOURCE_ADDR ? { sourceAddr: config.SMPP_SOURCE_ADDR } : {}),
        ...(config.SMPP_SOURCE_TON !== undefined ? { sourceTon: config.SMPP_SOURCE_TON } : {}),
        ...(config.SMPP_SOURCE_NPI !== undefined ? { sourceNpi: config.SMPP_SOURCE_NPI } : {}),
        systemType: config.SMPP_SYSTEM_TYPE,
        window: config.SMPP_WINDOW,
        maxPerSecond: config.SMPP_MAX_PER_SECOND,
        enquireLinkMs: config.SMPP_ENQUIRE_LINK_MS,
        responseTimeoutMs: config.SMPP_RESPONSE_TIMEOUT_MS,
        allowLong: config.SMPP_ALLOW_LONG,
        tlsRejectUnauthorized: config.SMPP_TLS_VERIFY,
        ...(config.SMPP_TLS_CA ? { tlsCa: readFileSync(config.SMPP_TLS_CA) } : {}),
      },
    },
    logger,
  );
}

export interface RunningInbound {
  close(): Promise<void>;
}

/** Consumes `sms-inbound` (every process) and, with an SMPP provider, feeds it from the session. */
export async function startSmsInbound(ctx: AlertsContext): Promise<RunningInbound> {
  const { config, logger, provider } = ctx;
  const connection = createRedis(config.REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(SMS_INBOUND_QUEUE, {
    connection: ctx.redis,
    prefix: ctx.prefix,
    defaultJobOptions: {
      // About four minutes of retries: long enough for a send's update to land after its receipt.
      attempts: 9,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 24 * 3600, count: 50_000 },
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  });
  const producer: JobProducer<typeof SMS_INBOUND_QUEUE, JobsOptions> = queue;
  // Job name = the deliver_sm's kind: a handler per name of the registry (@spms/contracts).
  const onInbound = dispatchJob<typeof SMS_INBOUND_QUEUE, Job, void>(
    {
      receipt: (job) => recordReceipt(ctx, job.data),
      message: (job) => answerReply(ctx, job.data),
    },
    (job) => logger.warn({ jobId: job.id, name: job.name }, 'unknown sms-inbound job'),
  );
  const worker = new Worker(SMS_INBOUND_QUEUE, async (job: Job) => onInbound(job), {
    connection,
    prefix: ctx.prefix,
    concurrency: 4,
  });
  worker.on('failed', (job, err) =>
    logger.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'sms-inbound job failed'),
  );
  worker.on('error', (err) => logger.warn({ err: err.message }, 'sms-inbound worker error'));
  await worker.waitUntilReady();
  if (provider.name === 'smpp' && 'start' in provider) {
    // The job's key doubles as the message's id in sms_inbound_messages: a job run twice
    // (a stalled worker) records and answers the reply once.
    (provider as SmppProvider).start(async (d) => {
      const key = randomUUID();
      await producer.add(d.kind, { ...d, key }, { jobId: key });
    });
  }
  return {
    async close() {
      await provider.close?.();
      await worker.close();
      await connection.quit().catch(() => {});
      await queue.close();
    },
  };
}

async function recordReceipt(ctx: AlertsContext, d: SmsInboundJob<'receipt'>): Promise<void> {
  const r = d.receipt;
  const known = await recordDeliveryReceipt(ctx.pool, {
    messageIds: messageIdVariants(r.messageId),
    status: r.status,
    ...(r.errorCode !== undefined ? { errorCode: r.errorCode } : {}),
  });
  if (!known) throw new Error(`receipt for message id ${r.messageId} not known (yet)`);
}

async function answerReply(ctx: AlertsContext, d: SmsInboundJob<'message'>): Promise<void> {
  const m = d.message;
  const result = await handleInboundSms(
    ctx.pool,
    { provider: 'smpp', providerMessageId: `job:${d.key}`, from: m.from, to: m.to, text: m.text },
    { maxRepliesPerHour: ctx.config.SMS_REPLY_MAX_PER_HOUR },
  );
  ctx.logger.info(
    { inboundId: result.id, outcome: result.outcome, acknowledged: result.acknowledged.length },
    'SMS reply',
  );
  if (!result.reply || !ctx.provider.acceptsReplies) return;
  // The answer is a courtesy: a failure is logged, not retried (the acknowledgement stands).
  await ctx.provider
    .send({ to: m.from, body: result.reply })
    .catch((err: unknown) => ctx.logger.warn({ err: (err as Error).message }, 'answer to an SMS reply not sent'));
}
