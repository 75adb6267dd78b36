/**
 * The gateway's durable hand-off: group commit of device messages into BullMQ jobs.
 *
 * Every `enqueue` serialises its message (refusing it alone if it cannot be) and joins the
 * open group; a group is committed as ONE job (`INGEST_JOB`, payload `IngestBatch`) when it reaches `maxBatch` messages or `maxDelayMs` after it
 * opened, and every caller in it is resolved only when Redis acknowledged that job. At
 * most `maxInFlight` commits run at once; while they do, the next group keeps filling, so
 * batches grow with load and throughput does not collapse to one round-trip per message.
 *
 * Outages: the producer's connection has no offline queue and no per-command retry, so a
 * command on a broken connection fails at once instead of sitting in memory (where a
 * crash would lose messages already "accepted"); each commit also has a deadline
 * (`enqueueTimeoutMs`, counted from when it is sent), after which its callers — and those of
 * every group still waiting for a commit slot — are rejected even if Redis never answers.
 * The deadline runs from the send, not from the group's first message: under a burst (a
 * grid-restore storm) groups wait here for a slot while Redis keeps answering, and
 * rejecting them would close healthy connections and make every device send again; a Redis
 * that stops answering still fails everything waiting within one deadline, and new messages
 * are refused at once until a commit settles again (no group waits behind a commit Redis may
 * never answer; the connection's command timeout is the deadline too). Groups waiting
 * for a slot are merged into one commit (up to `maxBatch`/`maxBatchBytes`), so batches grow
 * with the backlog. ioredis reconnects by itself; the next group after that commits normally.
 *
 * "Acknowledged" means "in Redis' memory and, with `appendonly yes`, written to the AOF
 * before the reply" — durable across a Redis crash (kill -9). Durable across power loss
 * only with `appendfsync always` (with `everysec`, up to ~1 s of acknowledged writes can
 * be lost if the machine itself goes down).
 */
import type { Logger } from '@spms/log';
import { Job, Queue } from 'bullmq';
import { CONTRACT_VERSION, INGEST_JOB, INGEST_QUEUE, type IngestMessage } from './contracts.js';
import { newMessageId } from './ids.js';
import { LatencyHistogram, type LatencySnapshot } from './latency.js';
import { ingestQueueOptions } from './options.js';
import { createRedis } from './redis-connection.js';

export interface IngestStats {
  /** Jobs committed (each one batch). */
  batches: number;
  /** Messages whose enqueue resolved. */
  messages: number;
  /** Commits that failed or timed out, and the messages in them (their enqueue rejected). */
  failedBatches: number;
  failedMessages: number;
  /** Messages refused alone (not serialisable, too big); never part of a failed batch. */
  rejectedMessages: number;
  lastBatchSize: number;
  /** Messages waiting for a commit, and commits awaiting Redis' reply, right now. */
  pending: number;
  inFlight: number;
  healthy: boolean;
  /** Time from `enqueue` to its resolution, for successful enqueues. */
  latency: LatencySnapshot;
}

export interface IngestProducer {
  /** Resolves once the message is durably in Redis as part of a committed batch (BullMQ job);
   *  rejects (after at most `enqueueTimeoutMs`) with IngestUnavailableError if Redis is
   *  unavailable — the caller then withholds the PUBACK / answers 503 — or at once with
   *  IngestRejectedError if this message alone cannot be queued (not serialisable as JSON,
   *  or over `maxMessageBytes`): the caller refuses it as an invalid payload.
   *  The message is serialised here, so its size closes a batch early and one job stays
   *  under `maxBatchBytes`; `approxBytes` is accepted for compatibility and ignored. */
  enqueue(msg: IngestMessage, approxBytes?: number): Promise<void>;
  /** Stats for /metrics: batches, messages, failures, last batch size, enqueue latency histogram data. */
  stats(): IngestStats;
  /** True while Redis accepts writes. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

export interface IngestProducerOptions {
  redisUrl: string;
  prefix: string;
  /** Largest number of messages in one job (default 500). */
  maxBatch?: number;
  /** A batch is closed once its messages' JSON adds up to this (default 1 MiB). */
  maxBatchBytes?: number;
  /** Largest serialised message (default 512 KiB): beyond, the message alone is refused. */
  maxMessageBytes?: number;
  /** Longest a message waits for its group to fill (default 2 ms). */
  maxDelayMs?: number;
  /** Longest an enqueue may take before it rejects (default 2000 ms). */
  enqueueTimeoutMs?: number;
  /** Commits awaiting Redis at once (default 4). */
  maxInFlight?: number;
  logger?: Logger;
}

/** Thrown (as the rejection) when a message could not be committed. */
export class IngestUnavailableError extends Error {
  override name = 'IngestUnavailableError';
}

/** Thrown (as the rejection) when one message cannot be queued; its group is unaffected. */
export class IngestRejectedError extends Error {
  override name = 'IngestRejectedError';
}

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
  startedAt: number;
}

interface Group {
  /** The messages, each already serialised by `enqueue`. */
  messages: string[];
  bytes: number;
  waiters: Waiter[];
  settled: boolean;
  /** Set when the group is sent: its commit's deadline. */
  deadline?: NodeJS.Timeout;
}

/**
 * A group's job data, already JSON. BullMQ serialises a job's data with JSON.stringify in
 * `Job.asJSON`; its Queue exposes the Job class as an extension point (`get Job`), which
 * lets the group carry its messages' JSON as is instead of serialising every message twice.
 */
class EncodedBatch {
  constructor(readonly json: string) {}
}

class EncodedBatchJob extends Job {
  override asJSON(): ReturnType<Job['asJSON']> {
    const data: unknown = this.data;
    if (!(data instanceof EncodedBatch)) return super.asJSON();
    this.data = null;
    try {
      return { ...super.asJSON(), data: data.json };
    } finally {
      this.data = data;
    }
  }
}

class EncodedBatchQueue extends Queue<EncodedBatch> {
  protected override get Job(): typeof Job {
    // BullMQ's typeof Job is generic over the data; this subclass only ever sees EncodedBatch.
    return EncodedBatchJob as unknown as typeof Job;
  }
}

export function createIngestProducer(opts: IngestProducerOptions): IngestProducer {
  const maxBatch = opts.maxBatch ?? 500;
  const maxBatchBytes = opts.maxBatchBytes ?? 1024 * 1024;
  const maxMessageBytes = opts.maxMessageBytes ?? 512 * 1024;
  const maxDelayMs = opts.maxDelayMs ?? 2;
  const timeoutMs = opts.enqueueTimeoutMs ?? 2000;
  const maxInFlight = opts.maxInFlight ?? 4;
  const log = opts.logger;

  const connection = createRedis(opts.redisUrl, {
    // Fail fast while disconnected instead of buffering in memory (see the header).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: Math.max(timeoutMs, 1000),
    // A Redis that accepts commands and never answers must not hold the commit slots for
    // good (the connection stays 'ready'): a commit not answered within the deadline is
    // rejected by ioredis too, its slot frees, and later groups fail within a deadline.
    commandTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  });
  let lastErrorLog = 0;
  // Once Redis has failed us (or was ready and went away), refuse at once while it is not
  // ready instead of making every caller wait for its deadline. Before the first connect
  // attempt has finished, callers wait (bounded by the deadline).
  let refuseWhileDown = false;
  connection.on('error', (err) => {
    refuseWhileDown = true;
    const now = Date.now();
    if (now - lastErrorLog > 5000) {
      lastErrorLog = now;
      log?.warn({ err: err.message }, 'ingest producer: redis connection error');
    }
  });
  connection.on('ready', () => {
    refuseWhileDown = true;
    log?.info('ingest producer: redis ready');
  });
  const queue = new EncodedBatchQueue(INGEST_QUEUE, { connection, ...ingestQueueOptions(opts.prefix) });
  // BullMQ re-emits connection errors; without a listener they would crash the process.
  queue.on('error', () => {});

  const latency = new LatencyHistogram();
  const counters = {
    batches: 0,
    messages: 0,
    failedBatches: 0,
    failedMessages: 0,
    rejectedMessages: 0,
    lastBatchSize: 0,
  };
  let open: Group | undefined;
  let openTimer: NodeJS.Timeout | undefined;
  const ready: Group[] = [];
  let inFlight = 0;
  let stalled = false;
  let closed = false;
  let lastFailureLog = 0;

  function fail(group: Group, err: Error): void {
    if (group.settled) return;
    group.settled = true;
    clearTimeout(group.deadline);
    counters.failedBatches++;
    counters.failedMessages += group.messages.length;
    const now = Date.now();
    if (now - lastFailureLog > 5000) {
      lastFailureLog = now;
      log?.error({ err: err.message, messages: group.messages.length }, 'ingest commit failed; enqueues rejected');
    }
    for (const w of group.waiters) w.reject(err);
  }

  function succeed(group: Group): void {
    if (group.settled) return;
    group.settled = true;
    clearTimeout(group.deadline);
    counters.batches++;
    counters.messages += group.messages.length;
    counters.lastBatchSize = group.messages.length;
    const now = performance.now();
    for (const w of group.waiters) {
      latency.observe(now - w.startedAt);
      w.resolve();
    }
  }

  function seal(): void {
    if (openTimer) clearTimeout(openTimer);
    openTimer = undefined;
    if (open) ready.push(open);
    open = undefined;
    dispatch();
  }

  /** Redis stopped answering: every group not yet sent fails with the commit that timed out. */
  function failWaiting(err: Error): void {
    for (const g of ready.splice(0)) fail(g, err);
    if (open) {
      if (openTimer) clearTimeout(openTimer);
      openTimer = undefined;
      const g = open;
      open = undefined;
      fail(g, err);
    }
  }

  /** The next group to send, with the groups queued behind it merged in while they fit. */
  function nextCommit(): Group | undefined {
    let group = ready.shift();
    while (group?.settled) group = ready.shift(); // failed while waiting (close)
    while (group && ready.length > 0) {
      const next = ready[0] as Group;
      if (next.settled) {
        ready.shift();
        continue;
      }
      if (group.messages.length + next.messages.length > maxBatch || group.bytes + next.bytes > maxBatchBytes) break;
      ready.shift();
      for (const m of next.messages) group.messages.push(m);
      group.bytes += next.bytes;
      for (const w of next.waiters) group.waiters.push(w);
    }
    return group;
  }

  function dispatch(): void {
    while (inFlight < maxInFlight && ready.length > 0) {
      const group = nextCommit();
      if (!group) return;
      inFlight++;
      group.deadline = setTimeout(() => {
        const err = new IngestUnavailableError(`ingest queue did not acknowledge within ${timeoutMs} ms`);
        fail(group, err);
        failWaiting(err);
        stalled = true;
      }, timeoutMs);
      // The job's data is the IngestBatch JSON, assembled from the messages' own JSON.
      const batch = new EncodedBatch(`{"v":${CONTRACT_VERSION},"messages":[${group.messages.join(',')}]}`);
      // A custom job id makes a commit idempotent should the same add ever reach Redis twice.
      queue
        .add(INGEST_JOB, batch, { jobId: `b${newMessageId()}` })
        .then(
          () => succeed(group),
          (err: unknown) => fail(group, err instanceof Error ? err : new Error(String(err))),
        )
        .finally(() => {
          inFlight--;
          stalled = false; // Redis answered (or failed) again
          dispatch();
        });
    }
  }

  function enqueue(msg: IngestMessage): Promise<void> {
    if (closed) return Promise.reject(new IngestUnavailableError('ingest producer is closed'));
    // Serialised here, per message, so a message JSON cannot carry (too deep, a BigInt, a
    // cycle) or one too big is refused alone instead of failing its whole group commit.
    let json: string;
    try {
      json = JSON.stringify(msg);
    } catch (err) {
      counters.rejectedMessages++;
      const why = err instanceof Error ? err.message : String(err);
      return Promise.reject(new IngestRejectedError(`message cannot be serialised as JSON: ${why}`));
    }
    const bytes = json.length;
    if (bytes > maxMessageBytes) {
      counters.rejectedMessages++;
      return Promise.reject(
        new IngestRejectedError(`message is ${bytes} characters as JSON (at most ${maxMessageBytes})`),
      );
    }
    // A commit passed its deadline and nothing has settled since: refuse at once rather than
    // queue behind commits Redis may never answer (a hung server, a connection that never got ready).
    if (stalled) {
      counters.failedMessages++;
      return Promise.reject(new IngestUnavailableError('ingest queue is not acknowledging commits'));
    }
    if (refuseWhileDown && connection.status !== 'ready') {
      counters.failedMessages++;
      return Promise.reject(new IngestUnavailableError(`redis unavailable (${connection.status})`));
    }
    return new Promise<void>((resolve, reject) => {
      if (!open) {
        open = { messages: [], bytes: 0, waiters: [], settled: false };
        openTimer = setTimeout(seal, maxDelayMs);
      }
      open.messages.push(json);
      open.bytes += bytes;
      open.waiters.push({ resolve, reject, startedAt: performance.now() });
      if (open.messages.length >= maxBatch || open.bytes >= maxBatchBytes) seal();
    });
  }

  return {
    enqueue,
    stats: () => ({
      ...counters,
      pending: (open?.messages.length ?? 0) + ready.reduce((n, g) => n + (g.settled ? 0 : g.messages.length), 0),
      inFlight,
      healthy: connection.status === 'ready',
      latency: latency.snapshot(),
    }),
    isHealthy: () => connection.status === 'ready',
    async close() {
      if (closed) return;
      closed = true;
      seal();
      // Let commits already sent finish (bounded by their deadlines) before disconnecting.
      const until = Date.now() + timeoutMs;
      while ((inFlight > 0 || ready.some((g) => !g.settled)) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 5));
      }
      for (const g of ready.splice(0)) fail(g, new IngestUnavailableError('ingest producer closed'));
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}
