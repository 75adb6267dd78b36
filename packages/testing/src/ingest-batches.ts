/**
 * Reads the ingest batches back from Redis (any job state), in queue order: what a test
 * asks to see whether a message was queued ("is my message in the queue?").
 */
import type { IngestBatch } from '@spms/contracts';
import { createRedis, INGEST_QUEUE, ingestQueueOptions } from '@spms/queue';
import { Queue } from 'bullmq';

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
