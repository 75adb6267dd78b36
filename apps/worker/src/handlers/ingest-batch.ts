/**
 * Handler of the `ingest` queue's `batch` jobs (contract: packages/queue/src/contracts.ts).
 * An invalid message is dead-lettered alone (device, raw message, reason) and the job's
 * other messages are processed; a whole-job problem (contract version, job name) → one
 * job-level dead letter + UnrecoverableError. Any other failure (PostgreSQL down,
 * Redis hiccup) is thrown as is: BullMQ retries with the queue's back-off, and the batch is
 * idempotent, so nothing acknowledged by the gateway is lost or doubled.
 */

import type { DomainEvent } from '@spms/contracts';
import { INGEST_JOB, INGEST_QUEUE, type IngestBatch } from '@spms/queue';
import { type Job, UnrecoverableError } from 'bullmq';
import { deadLetterCounts, recordDeadLetter, recordMessageDeadLetters } from '../dead-letter.js';
import type { EventPublisher } from '../outbox.js';
import { type BatchContext, processBatch } from '../process-batch.js';
import { InvalidBatchError, type SplitBatch, splitBatch } from '../validate.js';
import { BatchCombiner } from './combine.js';

export interface IngestHandlerDeps extends BatchContext {
  publisher: EventPublisher;
  /** Transactions in flight at once; concurrent jobs are merged into them (see combine.ts). */
  transactions: number;
  /** Upper bound of messages merged into one transaction. */
  mergeMaxMessages: number;
  /** A merged batch is split by device into this many transactions run in parallel. */
  shards: number;
  /** After each merged batch committed: its duration and the events it committed (metrics). */
  onCommitted?: (seconds: number, events: readonly DomainEvent[]) => void;
  /** After a job's messages committed, before the job completes (the ThingsBoard bridge's
   *  feed): a failure fails the job, whose redelivery stores nothing new and calls it again. */
  afterCommit?: (messages: IngestBatch['messages']) => Promise<void>;
}

/** FNV-1a of the device id: which shard (transaction) a device's messages go to. */
function shardOf(deviceId: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < deviceId.length; i++) h = Math.imul(h ^ deviceId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % shards;
}

export function splitByDevice(batch: IngestBatch, shards: number): IngestBatch[] {
  if (shards <= 1) return [batch];
  const parts: IngestBatch[] = Array.from({ length: shards }, () => ({ v: 1, messages: [] }));
  for (const m of batch.messages) parts[shardOf(m.deviceId, shards)]?.messages.push(m);
  return parts.filter((p) => p.messages.length > 0);
}

export function createIngestHandler(deps: IngestHandlerDeps) {
  // Publishing runs after COMMIT, outside the transaction slot, one batch after the other so
  // that events leave in commit order (a device's opened before its closed).
  let publishing: Promise<unknown> = Promise.resolve();
  const combiner = new BatchCombiner(
    async (batch: IngestBatch) => {
      // One transaction per device shard, in parallel: shards share no device, so they never
      // wait on each other's device locks (a job is done when all its shards committed).
      const parts = splitByDevice(batch, deps.shards);
      const started = performance.now();
      const settled = await Promise.allSettled(parts.map((part) => processBatch(deps, part)));
      const events = settled.flatMap((r) => (r.status === 'fulfilled' ? r.value.events : []));
      deps.onCommitted?.((performance.now() - started) / 1000, events);
      // Committed: publishing failures are repaired by the outbox relay, never by a retry.
      // Only the Redis half is chained (order); marking them published in PostgreSQL is not.
      const sent = publishing.then(() => deps.publisher.send(events));
      publishing = sent.catch(() => {});
      const published = sent
        .then(() => deps.publisher.markPublished(events))
        .catch((err: unknown) => {
          deps.logger.warn({ err }, 'domain events committed but not yet published (relay will retry)');
        });
      // A failed shard fails the batch (retried; the committed shards' part is then a no-op).
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return { after: published.then(() => events.length) };
    },
    deps.transactions,
    deps.mergeMaxMessages,
  );
  return async function handleIngestBatch(job: Job): Promise<{ messages: number; events: number }> {
    let split: SplitBatch;
    try {
      if (job.name !== INGEST_JOB) throw new InvalidBatchError(`job name: expected '${INGEST_JOB}', got '${job.name}'`);
      split = splitBatch(job.data);
    } catch (err) {
      if (!(err instanceof InvalidBatchError)) throw err;
      // If PostgreSQL is down this throws and the job is retried, so the record is never lost.
      await recordDeadLetter(deps.pool, {
        queue: INGEST_QUEUE,
        jobId: String(job.id),
        jobName: job.name,
        reason: err.message,
        payload: job.data,
      });
      deps.logger.error({ jobId: job.id, reason: err.message }, 'invalid ingest job: dead-lettered');
      throw new UnrecoverableError(`invalid ingest batch: ${err.message}`);
    }
    const { batch, invalid } = split;
    if (invalid.length > 0) {
      // Recorded before the others are processed: if PostgreSQL is down this throws and the
      // whole job is retried (both steps are idempotent), so no refusal is ever lost.
      await recordMessageDeadLetters(
        deps.pool,
        { queue: INGEST_QUEUE, jobId: String(job.id), jobName: job.name },
        invalid,
      );
      for (const m of invalid) {
        const deviceId = (m.message as { deviceId?: unknown } | null)?.deviceId;
        deps.logger.error(
          {
            jobId: job.id,
            index: m.index,
            deviceId: typeof deviceId === 'string' ? deviceId.slice(0, 64) : deviceId,
            reason: m.reason,
            // Running count of this process (the worker has no /metrics endpoint yet).
            deadLetteredMessages: deadLetterCounts.messages,
          },
          'invalid ingest message: dead-lettered alone, the rest of the job is processed',
        );
      }
    }
    const events = batch.messages.length > 0 ? await combiner.submit(batch) : 0;
    if (deps.afterCommit && batch.messages.length > 0) await deps.afterCommit(batch.messages);
    return { messages: batch.messages.length, events };
  };
}
