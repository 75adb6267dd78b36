/**
 * Group commit for ingest jobs. Every transaction has a fixed cost (a dozen round trips, the
 * device locks, the WAL flush at COMMIT), and batches sharing devices serialise on the device
 * locks anyway. So the jobs that BullMQ hands this process concurrently are not run in
 * parallel transactions: they are queued here and up to `maxTransactions` transactions each
 * take everything queued so far (up to `maxMessages` messages) and process it as ONE batch.
 * A lone job under light load starts at once (no added delay); under load, jobs that arrive
 * while a transaction runs ride the next one together.
 *
 * Merging is exact: the batch pipeline is order-independent and idempotent per message id
 * (shuffled, duplicated, redelivered input give in-order results), so N jobs in one
 * transaction write what N transactions would. Each job keeps its own BullMQ life (lock,
 * retries, completion). If a merged transaction fails, each job is retried alone right
 * away, so one poisonous job fails only itself, and a database outage fails them all (BullMQ
 * retries with back-off).
 */
import type { IngestBatch } from '@spms/queue';

interface Pending<R> {
  batch: IngestBatch;
  resolve: (r: R | PromiseLike<R>) => void;
  reject: (err: unknown) => void;
}

export class BatchCombiner<R> {
  private readonly queue: Pending<R>[] = [];
  private running = 0;

  constructor(
    /** Resolves once the transaction is over (the slot is free); `after` = the job's result. */
    private readonly run: (batch: IngestBatch) => Promise<{ after: Promise<R> }>,
    private readonly maxTransactions: number,
    private readonly maxMessages: number,
  ) {}

  submit(batch: IngestBatch): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.maxTransactions && this.queue.length > 0) {
      const take: Pending<R>[] = [];
      let n = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0] as Pending<R>;
        if (take.length > 0 && n + next.batch.messages.length > this.maxMessages) break;
        take.push(next);
        n += next.batch.messages.length;
        this.queue.shift();
      }
      this.running++;
      void this.runGroup(take).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async runGroup(group: Pending<R>[]): Promise<void> {
    const batch: IngestBatch =
      group.length === 1 ? (group[0] as Pending<R>).batch : { v: 1, messages: group.flatMap((p) => p.batch.messages) };
    try {
      const r = await this.run(batch);
      for (const p of group) p.resolve(r.after);
      return;
    } catch (err) {
      if (group.length === 1) {
        (group[0] as Pending<R>).reject(err);
        return;
      }
    }
    for (const p of group) {
      try {
        p.resolve((await this.run(p.batch)).after);
      } catch (err) {
        p.reject(err);
      }
    }
  }
}
