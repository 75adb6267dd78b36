/**
 * Reads the ingest batches back from Redis (any job state), in queue order. For tests,
 * benchmarks and debugging ("is my message in the queue?"); never in the hot path.
 */
import { Queue } from 'bullmq';
import { INGEST_QUEUE, type IngestBatch } from './contracts.js';
import { ingestQueueOptions } from './options.js';
import { createRedis } from './redis-connection.js';

export async function readIngestBatches(redisUrl: string, prefix: string): Promise<IngestBatch[]> {
  const connection = createRedis(redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => {});
  const queue = new Queue<IngestBatch>(INGEST_QUEUE, { connection, ...ingestQueueOptions(prefix) });
  queue.on('error', () => {});
  try {
    const jobs = await queue.getJobs(
      ['waiting', 'prioritized', 'active', 'completed', 'failed', 'delayed'],
      0,
      -1,
      true,
    );
    return jobs.filter((j) => j?.data).map((j) => j.data);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}
