/**
 * Queue names and the payload of every job name on them: one registry, so a producer and
 * its consumer agree at compile time, and a consumer of several job names dispatches
 * through `dispatchJob` (a missing handler is a compile error) instead of comparing strings.
 */
import { DOMAIN_EVENTS_QUEUE, type DomainEvent, type QueuedEventType } from './events.js';
import { INGEST_JOB, INGEST_QUEUE, type IngestBatch } from './ingest.js';
import type { SmsInboundJob } from './sms.js';

/** The alerts processes' durable timers (BullMQ delayed jobs). */
export const ALERT_TIMERS_QUEUE = 'alert-timers';
/** One job per SMS notification to send. */
export const SMS_QUEUE = 'sms';
/** Delivery receipts and replies from the SMSC (SMPP deliver_sm), handled by any alerts process. */
export const SMS_INBOUND_QUEUE = 'sms-inbound';
/** One job per e-mail notification (alert e-mails and report e-mails). */
export const EMAIL_QUEUE = 'email';

/** Debounce over: notify about the alert if it is still active. */
export interface DebounceJob {
  alertId: string;
}
/** A recipient's grouping window closed: send what it collected (`gen` names the window). */
export interface FlushJob {
  recipientId: string;
  groupKey: string;
  gen: string;
}
/** Quiet period after a flapping line's last change: does it leave the flapping state? */
export interface FlapCheckJob {
  deviceId: string;
  line: number;
}
/** The recipient's cap window ended: one summary of the texts it held back. */
export interface OverflowJob {
  recipientId: string;
  windowStart: number;
}
/** An escalation tier is due for the alert. */
export interface EscalateJob {
  alertId: string;
  tier: number;
}
/** Send one notification row (SMS or e-mail); the row is re-read, only a pending one is sent. */
export interface SendJob {
  notificationId: string;
}
export type EmailJob = SendJob;

export interface AlertTimerJobs {
  debounce: DebounceJob;
  flush: FlushJob;
  'flap-check': FlapCheckJob;
  overflow: OverflowJob;
  escalate: EscalateJob;
}

/** Queue → job name → payload. */
export interface JobRegistry {
  [INGEST_QUEUE]: { [INGEST_JOB]: IngestBatch };
  /** Job name = event type, job id = event id; only the types the alerts act on. */
  [DOMAIN_EVENTS_QUEUE]: { [T in QueuedEventType]: DomainEvent & { type: T } };
  [ALERT_TIMERS_QUEUE]: AlertTimerJobs;
  [SMS_QUEUE]: { send: SendJob };
  /** Job name = the deliver_sm's kind, job id = its key. */
  [SMS_INBOUND_QUEUE]: { receipt: SmsInboundJob<'receipt'>; message: SmsInboundJob<'message'> };
  [EMAIL_QUEUE]: { send: EmailJob };
}

export type QueueName = keyof JobRegistry;
export type JobName<Q extends QueueName> = keyof JobRegistry[Q] & string;
export type JobData<Q extends QueueName, N extends JobName<Q>> = JobRegistry[Q][N];

/** One job for queue Q as a producer hands it over: a name of Q with its payload. */
export type JobSpec<Q extends QueueName, O = unknown> = {
  [N in JobName<Q>]: { name: N; data: JobData<Q, N>; opts?: O };
}[JobName<Q>];

/** The producer side of queue Q, each job name with its own payload (a BullMQ Queue is one). */
export interface JobProducer<Q extends QueueName, O = unknown> {
  add<N extends JobName<Q>>(name: N, data: JobData<Q, N>, opts?: O): Promise<unknown>;
  addBulk(jobs: JobSpec<Q, O>[]): Promise<unknown>;
}

/** What dispatch needs of a queue library's job (BullMQ's Job has it). */
export interface NamedJob {
  name: string;
  data: unknown;
  id?: string | undefined;
}

/** One handler per job name of queue Q; each gets the job with its own payload type. */
export type JobHandlers<Q extends QueueName, J extends NamedJob = NamedJob, R = unknown> = {
  [N in JobName<Q>]: (job: J & { name: N; data: JobData<Q, N> }) => R | Promise<R>;
};

/**
 * One processor for a queue with several job names: calls the handler of the job's name,
 * or `unknown` for a name the registry does not have (a job left by another version).
 */
export function dispatchJob<Q extends QueueName, J extends NamedJob, R>(
  handlers: JobHandlers<Q, J, R>,
  unknown: (job: J) => R | Promise<R>,
): (job: J) => R | Promise<R> {
  const table = handlers as unknown as Record<string, ((job: J) => R | Promise<R>) | undefined>;
  return (job) => {
    const handler = Object.hasOwn(table, job.name) ? table[job.name] : undefined;
    return handler ? handler(job) : unknown(job);
  };
}

/**
 * A domain event as a job of the `domain-events` queue: job name = its type, job id = its
 * id (BullMQ ignores an add whose id exists, so a repeat is a no-op).
 */
export function domainEventJob(
  e: DomainEvent<QueuedEventType>,
): JobSpec<typeof DOMAIN_EVENTS_QUEUE, { jobId: string }> {
  // The union of events does not correlate e.type with e by itself: each event is its type's.
  return { name: e.type, data: e, opts: { jobId: e.id } } as JobSpec<typeof DOMAIN_EVENTS_QUEUE, { jobId: string }>;
}

/** Job ids for BullMQ, which refuses ':' in custom ids. */
export const jobId = (...parts: (string | number)[]) => parts.join('-').replaceAll(':', '_');
